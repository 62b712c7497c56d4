# syntax=docker/dockerfile:1
# The dashboard behind nginx: node builds ui/dist, nginx serves it with DTQ's configuration
# (deploy/nginx: /api/ and /ws to the API upstream, SPA fallback, caching, security headers).
# The site is a template rendered by the nginx image's entrypoint (envsubst) from DTQ_* variables.
#   docker build -f docker/ui.Dockerfile -t dtq-ui .
FROM node:20-slim AS build
WORKDIR /ui
COPY ui/package.json ui/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY ui/ ./
RUN npm run build

FROM nginx:1.27-alpine
COPY deploy/nginx/nginx.conf /etc/nginx/nginx.conf
COPY deploy/nginx/dtq.conf.template /etc/nginx/templates/dtq.conf.template
COPY --from=build /ui/dist /usr/share/nginx/html
ENV DTQ_LISTEN=8080 \
    DTQ_UI_ROOT=/usr/share/nginx/html \
    DTQ_API_SERVERS="server api:8000;" \
    DTQ_MAX_BODY_BYTES=16777216 \
    NGINX_ENVSUBST_FILTER=^DTQ_
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]

#!/usr/bin/env bash
# First boot of a DTQ instance (EC2 user data, or run once as root): the `dtq` user, the release
# layout (/srv/dtq/releases/<name>, `current`), systemd units for the API and the workers,
# nginx in front (deploy/nginx), the settings from SSM Parameter Store, then the first release.
#
#   DTQ_RELEASE=2026-11-25.1 DTQ_ARTIFACT=s3://bucket/dtq-2026-11-25.1.tar.gz \
#   DTQ_PARAMETERS_PATH=/dtq/prod/ DTQ_WORKERS=2 bash setup-instance.sh
#
# Settings: every parameter under DTQ_PARAMETERS_PATH (REDIS_URL, ADMIN_API_KEY as SecureString,
# ...) becomes a line of /etc/dtq/dtq.env (root:dtq, 0640); never echoed. The instance metadata
# is read with IMDSv2 tokens only (launch instances with HttpTokens=required).
set -euo pipefail
: "${DTQ_RELEASE:?set DTQ_RELEASE}" "${DTQ_ARTIFACT:?set DTQ_ARTIFACT}"
: "${DTQ_PARAMETERS_PATH:=/dtq/}" "${DTQ_WORKERS:=2}"

imds() {  # IMDSv2: a session token first, then the path
  local token
  token=$(curl -fsS -X PUT http://169.254.169.254/latest/api/token \
    -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
  curl -fsS -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/$1"
}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-$(imds meta-data/placement/region)}
instance=$(imds meta-data/instance-id)
echo "setting up DTQ on $instance ($AWS_DEFAULT_REGION)"

if command -v apt-get >/dev/null; then
  apt-get update -qq && apt-get install -y -qq python3-venv nginx curl >/dev/null
else
  dnf install -y -q python3 nginx curl
fi
command -v aws >/dev/null || { echo "the AWS CLI is needed (SSM parameters, s3:// artifacts)"; exit 1; }
id dtq >/dev/null 2>&1 || useradd --system --home /srv/dtq --shell /usr/sbin/nologin dtq
install -d -o dtq -g dtq /srv/dtq /srv/dtq/releases
install -d -m 0750 -g dtq /etc/dtq

umask 027
aws ssm get-parameters-by-path --path "$DTQ_PARAMETERS_PATH" --recursive --with-decryption \
  --query 'Parameters[].[Name,Value]' --output text |
  while IFS=$'\t' read -r name value; do printf '%s=%s\n' "${name##*/}" "$value"; done \
  >/etc/dtq/dtq.env
grep -q '^ENVIRONMENT=' /etc/dtq/dtq.env || echo "ENVIRONMENT=production" >>/etc/dtq/dtq.env
chgrp dtq /etc/dtq/dtq.env && chmod 0640 /etc/dtq/dtq.env
umask 022

# the release's own copy of these files is what gets installed
here=$(mktemp -d)
case "$DTQ_ARTIFACT" in
  s3://*) aws s3 cp --only-show-errors "$DTQ_ARTIFACT" "$here/release.tar.gz" ;;
  *) curl -fsSL -o "$here/release.tar.gz" "$DTQ_ARTIFACT" ;;
esac
tar -xzf "$here/release.tar.gz" -C "$here" deploy
install -m 0755 "$here/deploy/ec2/dtq-release" /usr/local/bin/dtq-release
install -m 0644 "$here"/deploy/ec2/systemd/* /etc/systemd/system/
sed -i "s/^Wants=.*/Wants=$(seq -f 'dtq-worker@%g.service' -s ' ' 1 "$DTQ_WORKERS")/" \
  /etc/systemd/system/dtq-workers.target
systemctl daemon-reload
systemctl enable dtq-api.service dtq-workers.target

install -m 0644 "$here/deploy/nginx/nginx.conf" /etc/nginx/nginx.conf
max_body=$(sed -n 's/^MAX_REQUEST_BYTES=//p' /etc/dtq/dtq.env)
python3 "$here/deploy/nginx/render.py" --listen 80 --api 127.0.0.1:8000 \
  --ui-root /srv/dtq/current/ui/dist --max-body-bytes "${max_body:-16777216}" \
  --out /etc/nginx/conf.d/dtq.conf
rm -f /etc/nginx/sites-enabled/default
nginx -t && systemctl enable --now nginx && systemctl reload nginx

/usr/local/bin/dtq-release activate "$DTQ_RELEASE" "$here/release.tar.gz"
rm -rf "$here"
echo "DTQ $DTQ_RELEASE is serving on $instance"

/// <reference types="vitest/config" />
// The dashboard's build and dev server. In development, /api and /ws go to the API
// (DTQ_API_URL, default http://127.0.0.1:8000), so the browser sees one origin.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const api = process.env.DTQ_API_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  server: {
    port: 5173,
    strictPort: true,
    proxy: {
      "/api": { target: api, changeOrigin: true, rewrite: (path) => path.replace(/^\/api/, "") },
      "/ws": { target: api.replace(/^http/, "ws"), ws: true },
    },
  },
  build: { chunkSizeWarningLimit: 1000 },
  test: { environment: "happy-dom", include: ["src/**/*.test.{ts,tsx}"] },
});

import { defineConfig } from "vite";

// The console is served by the tenantry binary from web/dist (crates/http/src/console.rs) under a strict CSP:
// scripts, styles and images from its own origin only. So: no inlined data: assets, no inline scripts.
// `npm run dev` serves it with hot reload and forwards the API to a running `tenantry dev` (TENANTRY_URL).
const api = process.env.TENANTRY_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    sourcemap: false,
    target: "es2022",
    modulePreload: { polyfill: false },
  },
  server: {
    port: 5173,
    strictPort: true,
    proxy: {
      "/api": { target: api, changeOrigin: false },
      "/dev/mailbox": { target: api, changeOrigin: false },
    },
  },
});

import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The gateway serves dist/: index.html at `/`, hashed files under `/assets/`. Its CSP allows only
// same-origin scripts and styles, so nothing may be inlined into the HTML.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  server: {
    // `npm run dev`: the API (and the storefront config) come from a running `npm start`.
    proxy: Object.fromEntries(['/products', '/cart', '/discounts', '/inventory', '/api', '/auth', '/shipments', '/storefront', '/.well-known'].map((p) => [p, process.env.EMPORIUM_URL ?? 'http://127.0.0.1:3000'])),
  },
});

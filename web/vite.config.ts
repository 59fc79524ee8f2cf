// Vite: the React app, a dev server that proxies the hubs and APIs to a running Switchboard,
// and Vitest for the state logic (plain functions: no DOM needed).
import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// `make run` listens on 5000; SWITCHBOARD_URL points the dev server elsewhere.
const target = process.env.SWITCHBOARD_URL ?? 'http://localhost:5000';

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      '/hubs': { target, ws: true, changeOrigin: true },
      '/events': { target, changeOrigin: true },
      '/api': { target, changeOrigin: true },
    },
  },
  build: { outDir: 'dist', sourcemap: false },
  test: { include: ['src/**/*.test.ts'], environment: 'node' },
});

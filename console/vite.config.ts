// Builds the console into dist/, which the gateway serves at /console/ (gateway/console.py).
// The output is committed: `make check-console` rebuilds it and fails if it differs.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/console/",
  // Preact's automatic JSX runtime, without a plugin (no Babel, no dev-only refresh code).
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The strict Content-Security-Policy allows no inline script or style: keep every asset a
    // file, and leave out the module-preload polyfill (it would be an inline helper in older
    // Vite versions, and every browser the console supports has modulepreload).
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    // The gateway serves files, not maps; a map would be a file nobody asked for.
    sourcemap: false,
    target: "es2022",
  },
});

import { defineConfig } from "vite";

// The console is served by loyaltyd under /console/ and embedded in its binary, so
// the build must give the same bytes every time (make check-generated compares them)
// and make no request outside its own origin (the server's CSP forbids it).
export default defineConfig({
  base: "/console/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact", legalComments: "none" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // The module-preload polyfill is for browsers older than the console supports.
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
    // Inlined assets would be data: URLs; keep every asset a file the CSP allows.
    assetsInlineLimit: 0,
  },
});

/**
 * Build step (`npm run build`, after tsc): bundle each real process — dfget, its background
 * uploader, the supernode, dfdaemon, the manager and preheat — from the compiled JavaScript in
 * dist/ into one file each, at the same path under dist/bundle/ with `.mjs` for `.js`
 * (dist/bundle/transport/dfget/cli.mjs), which bin/built.js runs in place of the module
 * (`SMALL_DRAGONFLY_UNBUNDLED=1` runs the modules: profiles then name them, tests patch them).
 *
 * Why: a process started from dist/ resolves and loads some 60 modules, and the CommonJS packages
 * among them (ws, commander) are parsed twice (Node's cjs-module-lexer finds their exports for
 * ESM). Measured on this 2-core machine, an uploader that starts and idles out costs 0.34 s of
 * CPU from dist/ and 0.21 s bundled (bare `node -e 0`: 0.11 s); its start-up main-thread time
 * fell from ~285 ms to ~118 ms (`node --cpu-prof`). Every host of a swarm starts a dfget and an
 * uploader, and on a shared machine that start-up is CPU the transfers do not get.
 *
 * esbuild (already installed with tsx) does the bundling; the bundle keeps the code as tsc
 * emitted it (no minification, names intact for profiles and stack traces). CommonJS packages
 * inside an ES module bundle need a `require`: the banner gives them one.
 *
 *   node dist/transport/write-bundles.js
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

/** The dist/ modules that start a process (bin/<command>.js, and dfget's background uploader). */
export const BUNDLED_ENTRIES: readonly string[] = [
  'transport/dfget/cli.js',
  'transport/uploader/main.js',
  'transport/supernode/main.js',
  'transport/dfdaemon/main.js',
  'transport/manager/main.js',
  'transport/preheat/cli.js',
];

const dist = fileURLToPath(new URL('../', import.meta.url));

await Promise.all(BUNDLED_ENTRIES.map((entry) => build({
  entryPoints: [`${dist}${entry}`],
  outfile: `${dist}bundle/${entry.replace(/\.js$/, '.mjs')}`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
  banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
})));

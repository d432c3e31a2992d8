/**
 * The commands run the compiled JavaScript in dist/, which `npm install` builds (the `prepare`
 * script; `npm run build` rebuilds it). TypeScript under tsx is for development and tests only.
 */
import { existsSync } from 'node:fs';

const DIST = new URL('../dist/', import.meta.url);

/** Import `dist/<path>`; a missing build is named with the command that makes it. */
export async function loadBuilt(path) {
  const url = new URL(path, DIST);
  if (!existsSync(url)) {
    process.stderr.write(`small-dragonfly is not built (${url.pathname} is missing): run \`npm run build\` in ${new URL('..', DIST).pathname}\n`);
    process.exit(1);
  }
  return import(url.href);
}

/**
 * The commands run the compiled JavaScript in dist/, which `npm install` builds (the `prepare`
 * script; `npm run build` rebuilds it). TypeScript under tsx is for development and tests only.
 */
import { existsSync, readFileSync } from 'node:fs';

const DIST = new URL('../dist/', import.meta.url);
/** The widest help the commands print (transport/cli-help.ts, HELP_WIDTH_COLUMNS). */
const HELP_WIDTH_COLUMNS = 80;

/**
 * Import `dist/<path>`: its bundle, dist/bundle/<path with .mjs> (transport/write-bundles.ts: one
 * file starts faster than the modules it is made of), unless SMALL_DRAGONFLY_UNBUNDLED is set
 * (profiles then name each module; tests patch them). A missing build is named with the command
 * that makes it.
 */
export async function loadBuilt(path) {
  const bundle = new URL(`bundle/${path.replace(/\.js$/, '.mjs')}`, DIST);
  if (!process.env.SMALL_DRAGONFLY_UNBUNDLED && existsSync(bundle)) return import(bundle.href);
  const url = new URL(path, DIST);
  if (!existsSync(url)) {
    process.stderr.write(`small-dragonfly is not built (${url.pathname} is missing): run \`npm run build\` in ${new URL('..', DIST).pathname}\n`);
    process.exit(1);
  }
  return import(url.href);
}

/**
 * For a bare `<name> --help` or `-h`: print dist/help/<name>.txt, the help commander prints for
 * the command, written by `npm run build` from the same definition (transport/write-help.ts),
 * and return true — without loading commander or the program. False (the caller runs the
 * program, whose commander answers) for any other arguments, a terminal narrower than the help,
 * or a build without the file.
 */
export function printBuiltHelp(name) {
  const args = process.argv.slice(2);
  if (args.length !== 1 || (args[0] !== '--help' && args[0] !== '-h')) return false;
  if (process.stdout.isTTY && !(process.stdout.columns >= HELP_WIDTH_COLUMNS)) return false;
  let text;
  try {
    text = readFileSync(new URL(`help/${name}.txt`, DIST), 'utf8');
  } catch {
    return false;
  }
  process.stdout.write(text);
  return true;
}

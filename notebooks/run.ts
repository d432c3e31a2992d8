/**
 * `npm run notebook -- <name>`: run the study notebooks/<name>.ts, which writes its report under
 * out/notebooks/<name>/. Each notebook exports `run(outDir)`.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here).filter((f) => f.endsWith('.ts') && f !== 'run.ts').map((f) => f.replace(/\.ts$/, ''));
const name = process.argv[2];
if (!name || !available.includes(name)) {
  console.error(`usage: npm run notebook -- <name>   (${name ? `no notebook "${name}"; ` : ''}available: ${available.join(', ')})`);
  process.exit(2);
}
const notebook = (await import(join(here, `${name}.ts`))) as { run: (outDir: string) => Promise<void> };
await notebook.run(join('out', 'notebooks', name));

/**
 * What keeping the `.server` seeding backup costs when a download finishes (transport/dfget/
 * task-store.ts `finalize`): the hard link dfget makes (the uploader stops seeding if the output
 * is then edited), against the copy it falls back to where links are refused — a copy-on-write
 * clone where the filesystem offers one, else a real copy (2.1–2.4 s of system CPU per GiB on
 * this machine's ext4, which cannot clone).
 *
 *   npm run bench:server-copy -- [--dir DIR] [--size 1GiB]
 *
 * DIR should be on the filesystem of the homes that matter (default: the OS temp dir).
 */
import { constants, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatBytes, parseBytes } from '../core/units.ts';

const { values } = parseArgs({ options: { dir: { type: 'string', default: tmpdir() }, size: { type: 'string', default: '1GiB' } } });
const sizeBytes = parseBytes(values.size!);
const dir = await fs.mkdtemp(join(values.dir!, 'sdf-server-copy-'));
try {
  const data = join(dir, 'data');
  const chunk = Buffer.alloc(16 * 1024 * 1024, 0xa5);
  const handle = await fs.open(data, 'w');
  for (let at = 0; at < sizeBytes; at += chunk.length) await handle.write(chunk, 0, Math.min(chunk.length, sizeBytes - at), at);
  await handle.sync();
  await handle.close();
  const timed = async (what: string, work: () => Promise<void>): Promise<void> => {
    const startMs = performance.now();
    await work();
    console.log(`${what.padEnd(44)} ${((performance.now() - startMs) / 1000).toFixed(2)} s`);
  };
  console.log(`${formatBytes(sizeBytes)} in ${dir}`);
  await timed('hard link (what dfget makes)', () => fs.link(data, join(dir, 'linked')));
  await timed('copyFile COPYFILE_FICLONE (the fallback)', () => fs.copyFile(data, join(dir, 'cloned'), constants.COPYFILE_FICLONE));
  const cloneForced = await fs.copyFile(data, join(dir, 'forced'), constants.COPYFILE_FICLONE_FORCE).then(() => true, () => false);
  console.log(`this filesystem ${cloneForced ? 'clones (copy-on-write): the copy costs no data I/O' : 'cannot clone: the copy is a real copy'}`);
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}

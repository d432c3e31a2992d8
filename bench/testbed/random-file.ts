/**
 * The benchmarks' source files: random bytes (nothing compresses or deduplicates them), written
 * in 8 MiB chunks with back-pressure, and their SHA-256 for checking the copies that come back.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';

const CHUNK_BYTES = 8 * 1024 * 1024;

/** Write `sizeBytes` random bytes to `path`; resolves with the file's `sha256:<hex>`. */
export async function writeRandomFile(path: string, sizeBytes: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let written = 0; written < sizeBytes; written += CHUNK_BYTES) {
    const chunk = randomBytes(Math.min(CHUNK_BYTES, sizeBytes - written));
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return `sha256:${hash.digest('hex')}`;
}

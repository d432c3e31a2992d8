/**
 * Where a blob's bytes come from, as one shape: an async generator that yields the total size
 * first and then the body's chunks in order (the local repo's file, the P2P download's verified
 * prefix, a direct pull from the registry), and `pump`, which drives one of them into the
 * client's `BlobResponder`.
 */
import { promises as fs } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BlobResponder } from './blob-response.ts';
import { endToEndHeaders } from './upstream.ts';

export type ByteSource = AsyncGenerator<number | Buffer>;

export type PumpOutcome =
  | { ok: true }
  /** `final`: the response is already ended or broken; no other source may continue it. */
  | { ok: false; reason: string; error?: unknown; final: boolean };

/** Drive one byte source into the responder; a throw becomes a failed outcome the caller may retry. */
export async function pump(responder: BlobResponder, source: ByteSource): Promise<PumpOutcome> {
  try {
    for await (const item of source) {
      if (typeof item === 'number') responder.start(item);
      else await responder.write(item);
    }
  } catch (err) {
    return { ok: false, reason: (err as Error).message, error: err, final: false };
  }
  const outcome = responder.finish();
  return outcome.ok ? outcome : { ok: false, reason: outcome.reason, final: true };
}

export async function* readWholeFile(path: string): ByteSource {
  const handle = await fs.open(path, 'r');
  try {
    yield (await handle.stat()).size;
    for await (const chunk of handle.createReadStream({ highWaterMark: 1024 * 1024 })) yield chunk as Buffer;
  } finally {
    await handle.close();
  }
}

/** Pass a byte source through unchanged while appending its chunks to `path`. */
export async function* teeToFile(source: ByteSource, path: string): ByteSource {
  const handle = await fs.open(path, 'w');
  try {
    for await (const item of source) {
      if (typeof item !== 'number') await handle.write(item);
      yield item;
    }
  } finally {
    await handle.close();
  }
}

/** The registry's answer, passed to the client as it came (hop-by-hop headers aside). */
export function forwardResponse(upRes: IncomingMessage, res: ServerResponse): void {
  res.writeHead(upRes.statusCode ?? 502, endToEndHeaders(upRes.headers));
  upRes.pipe(res);
  upRes.on('error', () => res.destroy());
  upRes.on('aborted', () => res.destroy());
}

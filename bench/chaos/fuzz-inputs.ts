/**
 * Generated inputs for the port fuzzer, from fast-check arbitraries sampled with a fixed seed (so
 * a run replays): for each port a mix of well-formed messages with hostile field values, any JSON,
 * any text and any bytes.
 *
 *   control   supernode /peer text frames: register/pull/report/leave with wrong types, huge or
 *             negative numbers, unknown kinds, taskIds right and wrong (URLs only on the local
 *             origin, so nothing leaves the machine)
 *   data      /data frames of the supernode and of an uploader: piece-requests for the real task
 *             and others, any piece number and request id
 *   http      raw HTTP/1.1 requests to dfdaemon: methods, registry paths, traversal, odd headers,
 *             bodies, broken framing, and raw bytes
 */
import fc from 'fast-check';
import { taskIdFor } from '../../transport/task-id.ts';

export type Frame = string | Buffer;

const hostileNumber = fc.oneof(fc.integer(), fc.constantFrom(-1, 0, 2 ** 31, 2 ** 53, 1e308, -0, 0.5), fc.double());
const text = fc.string({ maxLength: 80 });

/** Mostly plausible values (so inputs get past the decoder), sometimes anything. */
const plausible = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 4, arbitrary: good as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: bad });

function taskIdArb(realTaskId: string): fc.Arbitrary<unknown> {
  return plausible(fc.oneof(fc.constant(realTaskId), fc.stringMatching(/^[0-9a-f]{64}$/)), fc.oneof(text, hostileNumber, fc.constant(null)));
}

function controlMessage(originUrl: string, realTaskId: string): fc.Arbitrary<string> {
  const url = fc.oneof(fc.constant(`${originUrl}/fuzz.bin`), text.map((p) => `${originUrl}/${encodeURIComponent(p)}`), text);
  const task = fc.record({ url, headers: fc.oneof(fc.dictionary(text, text, { maxKeys: 3 }), fc.anything()) }, { requiredKeys: [] });
  const result = fc.record({ piece: plausible(fc.nat(10), hostileNumber), source: fc.oneof(text, fc.constant('supernode')), ok: fc.boolean(),
    failure: fc.constantFrom('corrupt', 'refused', 'timeout', 'busy', 'nonsense') }, { requiredKeys: [] });
  const msg = fc.record({
    kind: plausible(fc.constantFrom('register', 'pull', 'report', 'leave'), fc.constantFrom('bogus', '', 7)),
    taskId: taskIdArb(realTaskId), task,
    uploadAddr: fc.oneof(fc.constant('127.0.0.1:1'), text), have: fc.oneof(fc.array(hostileNumber, { maxLength: 8 }), fc.anything()),
    blacklist: fc.oneof(fc.array(text, { maxLength: 4 }), fc.anything()), pattern: fc.constantFrom('p2p', 'cdn', 'x'),
    results: fc.oneof(fc.array(result, { maxLength: 6 }), fc.anything()), uploadRateBytesPerSec: hostileNumber,
  }, { requiredKeys: ['kind', 'taskId'] });
  // Some registers with the taskId their URL really hashes to, so they pass the identity check.
  const honestRegister = url.map((u) => {
    let taskId: string;
    try { taskId = taskIdFor({ url: u }); } catch { taskId = realTaskId; }
    return { kind: 'register', taskId, task: { url: u, headers: {} }, uploadAddr: '127.0.0.1:1', have: [], blacklist: [], pattern: 'cdn' };
  });
  return fc.oneof(msg, honestRegister).map((m) => JSON.stringify(m));
}

function dataMessage(realTaskId: string): fc.Arbitrary<string> {
  return fc.record({
    kind: plausible(fc.constant('piece-request'), fc.constantFrom('piece-data', 'piece-refused', 'x')), requestId: plausible(fc.nat(1000), hostileNumber),
    taskId: taskIdArb(realTaskId), piece: plausible(fc.nat(10), hostileNumber), grant: text,
  }, { requiredKeys: ['kind', 'requestId', 'piece'] }).map((m) => JSON.stringify(m));
}

function otherFrames(): fc.Arbitrary<Frame> {
  return fc.oneof(
    fc.json({ maxDepth: 3 }),
    fc.string({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.string({ maxLength: 40 }).map((s) => `{"kind":"${s}"`),
  );
}

const sample = <T>(arb: fc.Arbitrary<T>, count: number, seed: number): T[] => fc.sample(arb, { numRuns: count, seed });

export function controlFrames(count: number, seed: number, originUrl: string, realTaskId: string): Frame[] {
  return sample(fc.oneof({ weight: 3, arbitrary: controlMessage(originUrl, realTaskId) as fc.Arbitrary<Frame> }, { weight: 1, arbitrary: otherFrames() }), count, seed);
}

export function dataFrames(count: number, seed: number, realTaskId: string): Frame[] {
  return sample(fc.oneof({ weight: 3, arbitrary: dataMessage(realTaskId) as fc.Arbitrary<Frame> }, { weight: 1, arbitrary: otherFrames() }), count, seed);
}

function httpRequest(blobPath: string): fc.Arbitrary<Buffer> {
  const method = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'BREW', '');
  const path = fc.oneof(fc.constant(blobPath), fc.constantFrom('/v2/', '/v2/_catalog', '/healthz', '/metrics', '*'),
    text.map((s) => `/v2/${s}/blobs/sha256:${s}`), text.map((s) => `/v2/${s}/manifests/${s}`), text.map((s) => `/${s}`),
    fc.constantFrom('/v2/../../etc/passwd', '/v2/a/blobs/sha256:%00', '/%2e%2e/%2e%2e/', '/v2/a/blobs/sha256:' + 'f'.repeat(64)));
  const header = fc.tuple(fc.oneof(fc.constantFrom('Range', 'Content-Length', 'Transfer-Encoding', 'Authorization', 'Host', 'Accept', 'If-None-Match'), text),
    fc.oneof(fc.constantFrom('bytes=0-10', 'bytes=-5', 'bytes=99999999-', '-1', 'chunked', 'Bearer x', '0'), text));
  const request = fc.record({ method, path, version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/9', ''), headers: fc.array(header, { maxLength: 5 }),
    body: fc.string({ maxLength: 100 }) }).map((r) => Buffer.from(`${r.method} ${r.path} ${r.version}\r\nHost: fuzz\r\n`
      + r.headers.map(([k, v]) => `${k.replace(/[\r\n]/g, '')}: ${v.replace(/[\r\n]/g, '')}\r\n`).join('') + `Connection: close\r\n\r\n${r.body}`));
  return fc.oneof({ weight: 4, arbitrary: request }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)) });
}

export function httpRequests(count: number, seed: number, blobPath: string): Buffer[] {
  return sample(httpRequest(blobPath), count, seed);
}

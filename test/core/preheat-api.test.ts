/**
 * The preheat API's request decoder and the image manifest decoder: what they accept, what they
 * refuse with which path, and that hostile input never makes them throw.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { decodeManifest, imageBlobs, selectManifests, type Manifest } from '../../core/image-manifest.ts';
import { decodePreheatRequest, formatPlatform, parsePlatform } from '../../core/preheat-api.ts';
import { checkProperty } from '../helpers/fc-rerun.ts';

const D = (c: string) => `sha256:${c.repeat(64)}`;

function errorOf(body: unknown): string {
  const decoded = decodePreheatRequest(JSON.stringify(body));
  assert.not.ok(decoded.ok, `accepted ${JSON.stringify(body)}`);
  return decoded.ok ? '' : `${decoded.error.path}: ${decoded.error.message}`;
}

test('a file request keeps its URL, headers, digest and identifier', () => {
  const decoded = decodePreheatRequest(JSON.stringify({
    type: 'file', url: 'https://origin.test/big.iso', headers: { Authorization: 'Bearer t' }, digest: D('a'), identifier: 'v2', extra: 1,
  }));
  assert.equal(decoded, { ok: true, msg: { kind: 'file', url: 'https://origin.test/big.iso', headers: { Authorization: 'Bearer t' }, digest: D('a'), identifier: 'v2' } });
});

test('an image request: registry origin, repository, tag or digest, credentials, platforms', () => {
  const decoded = decodePreheatRequest(JSON.stringify({
    type: 'image', registry: 'http://127.0.0.1:5000', repository: 'team/app', tag: 'v1', username: 'u', password: 'p', platforms: ['linux/arm/v7'],
  }));
  assert.equal(decoded, {
    ok: true,
    msg: {
      kind: 'image', registry: 'http://127.0.0.1:5000', repository: 'team/app', reference: { kind: 'tag', tag: 'v1' },
      credentials: { username: 'u', password: 'p' }, headers: {}, platforms: [{ os: 'linux', architecture: 'arm', variant: 'v7' }],
    },
  });
  const byDigest = decodePreheatRequest(JSON.stringify({ type: 'image', registry: 'https://r.example', repository: 'app', digest: D('b') }));
  assert.ok(byDigest.ok && byDigest.msg.kind === 'image' && byDigest.msg.reference.kind === 'digest' && byDigest.msg.platforms === null);
});

test('bad requests name the field and say what is expected', () => {
  assert.is(errorOf({ url: 'http://x/y' }), '$.type: missing');
  assert.is(errorOf({ type: 'disk' }), '$.type: expected one of file, image');
  assert.is(errorOf({ type: 'file', url: 'ftp://x/y' }), '$.url: only http:// and https:// are fetched');
  assert.is(errorOf({ type: 'file', url: 'http://x/y', headers: { 'Bad Name': 'v' } }), '$.headers["Bad Name"]: not a valid header name');
  assert.is(errorOf({ type: 'file', url: 'http://x/y', headers: { A: 'v\r\nInjected: 1' } }), '$.headers["A"]: a header value may not hold CR, LF or NUL');
  assert.is(errorOf({ type: 'file', url: 'http://x/y', digest: 'md5:abc' }), '$.digest: expected 71 to 71 characters, got 7');
  assert.is(errorOf({ type: 'image', registry: 'http://r/v2', repository: 'a', tag: 't' }), '$.registry: must be scheme, host and port only, e.g. https://registry.example:5000');
  assert.is(errorOf({ type: 'image', registry: 'http://r', repository: 'Team/App', tag: 't' }),
    '$.repository: "Team/App" is not a repository name (lower-case path components, e.g. team/app)');
  assert.is(errorOf({ type: 'image', registry: 'http://r', repository: 'a' }), '$.tag: give either tag or digest of the image');
  assert.is(errorOf({ type: 'image', registry: 'http://r', repository: 'a', tag: 't', username: 'u' }), '$.password: username and password go together');
  assert.is(errorOf({ type: 'image', registry: 'http://r', repository: 'a', tag: 't', platforms: ['linux'] }),
    '$.platforms[0]: "linux" is not os/architecture[/variant], e.g. linux/amd64 or linux/arm/v7');
  const big = decodePreheatRequest(JSON.stringify({ type: 'file', url: `http://x/${'a'.repeat(70_000)}` }));
  assert.ok(!big.ok && /over the 65536-character limit/.test(big.error.message));
});

test('hostile bodies never make the decoder throw', () => {
  const jsonish = fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.record({ type: fc.constantFrom('file', 'image', 'x'), url: fc.string(), registry: fc.string(), repository: fc.string(), tag: fc.string(),
      headers: fc.dictionary(fc.string(), fc.anything()), platforms: fc.anything() }).map((v) => JSON.stringify(v)));
  checkProperty(import.meta.url, 'preheat-api-fuzz', fc.property(jsonish, (text) => {
    const decoded = decodePreheatRequest(text);
    return typeof decoded.ok === 'boolean';
  }), { numRuns: 1000 });
  checkProperty(import.meta.url, 'manifest-fuzz', fc.property(jsonish, fc.option(fc.string()), (text, type) => typeof decodeManifest(text, type).ok === 'boolean'), { numRuns: 1000 });
});

test('platforms parse and print back', () => {
  assert.equal(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64' });
  assert.is(formatPlatform(parsePlatform('linux/arm/v7') as never), 'linux/arm/v7');
  assert.type(parsePlatform('linux/arm/v7/x'), 'string');
});

const INDEX = JSON.stringify({
  schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D('1'), size: 500, platform: { os: 'linux', architecture: 'amd64' } },
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D('2'), size: 500, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D('3'), size: 500, platform: { os: 'unknown', architecture: 'unknown' } },
  ],
});

test('an index: every runnable platform by default, or the platforms asked for (a variant only when named)', () => {
  const decoded = decodeManifest(INDEX, null);
  assert.ok(decoded.ok && decoded.msg.kind === 'index');
  const index = (decoded as { msg: Extract<Manifest, { kind: 'index' }> }).msg;
  assert.equal(selectManifests(index, null), [D('1'), D('2')], 'attestations (unknown/unknown) left out');
  assert.equal(selectManifests(index, [{ os: 'linux', architecture: 'arm' }]), [D('2')]);
  assert.equal(selectManifests(index, [{ os: 'linux', architecture: 'arm', variant: 'v6' }]), []);
  assert.equal(selectManifests(index, [{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm', variant: 'v7' }]), [D('1'), D('2')]);
});

test('an image manifest: config and layers, each once; foreign layers skipped; Docker list told by Content-Type', () => {
  const manifest = JSON.stringify({
    schemaVersion: 2, config: { digest: D('c'), size: 10 },
    layers: [{ digest: D('a'), size: 100 }, { digest: D('a'), size: 100 }, { digest: D('f'), size: 5, urls: ['https://foreign.example/l'] }, { digest: D('b'), size: 7 }],
  });
  const decoded = decodeManifest(manifest, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.ok(decoded.ok && decoded.msg.kind === 'image');
  assert.equal(imageBlobs(decoded.msg as Extract<Manifest, { kind: 'image' }>), [
    { digest: D('c'), sizeBytes: 10 }, { digest: D('a'), sizeBytes: 100 }, { digest: D('b'), sizeBytes: 7 },
  ]);
  const list = decodeManifest(JSON.stringify({ schemaVersion: 2, manifests: [] }), 'application/vnd.docker.distribution.manifest.list.v2+json; charset=utf-8');
  assert.equal(list, { ok: true, msg: { kind: 'index', manifests: [] } });
  const schema1 = decodeManifest(JSON.stringify({ schemaVersion: 1, fsLayers: [] }), 'application/vnd.docker.distribution.manifest.v1+prettyjws');
  assert.ok(!schema1.ok && /schema 1 images are not supported/.test(schema1.error.message));
  const badDigest = decodeManifest(JSON.stringify({ config: { digest: 'sha512:ab', size: 1 }, layers: [] }), null);
  assert.ok(!badDigest.ok && badDigest.error.path === '$.config.digest');
});

test.run();

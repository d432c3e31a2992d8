import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { classify, type RouteTable } from '../../../transport/dfdaemon/routes.ts';
import { ContiguousPrefix } from '../../../transport/dfdaemon/p2p-blob.ts';
import { resolveConfig } from '../../../transport/dfdaemon/options.ts';
import { checkProperty } from '../../helpers/fc-rerun.ts';

const HEX = 'a'.repeat(64);
const table: RouteTable = { upstreamsByHost: new Map([['registry-b.example:5000', 'registry-b.example:5000']]), defaultUpstream: 'default' };

test('a layer blob GET goes P2P to the default upstream', () => {
  assert.equal(classify('GET', `/v2/library/alpine/blobs/sha256:${HEX}`, table), {
    kind: 'blob', upstream: 'default', name: 'library/alpine', digest: `sha256:${HEX}`, upstreamPath: `/v2/library/alpine/blobs/sha256:${HEX}`,
  });
});

test('a blob read drops its query (containerd adds ?ns=) so every client shares one task', () => {
  const route = classify('GET', `/v2/library/alpine/blobs/sha256:${HEX}?ns=docker.io`, table);
  assert.is(route.kind === 'blob' && route.upstreamPath, `/v2/library/alpine/blobs/sha256:${HEX}`);
});

test('a first segment naming a configured registry host selects it and is stripped', () => {
  assert.equal(classify('GET', `/v2/registry-b.example:5000/team/app/blobs/sha256:${HEX}`, table), {
    kind: 'blob', upstream: 'registry-b.example:5000', name: 'team/app', digest: `sha256:${HEX}`,
    upstreamPath: `/v2/team/app/blobs/sha256:${HEX}`,
  });
  assert.equal(classify('GET', '/v2/registry-b.example:5000/team/app/manifests/v1', table),
    { kind: 'pass', upstream: 'registry-b.example:5000', upstreamPath: '/v2/team/app/manifests/v1' });
});

test('manifests, tags, the version check and uploads pass through with their query', () => {
  assert.equal(classify('GET', '/v2/', table), { kind: 'pass', upstream: 'default', upstreamPath: '/v2/' });
  assert.equal(classify('HEAD', '/v2/a/manifests/latest', table), { kind: 'pass', upstream: 'default', upstreamPath: '/v2/a/manifests/latest' });
  assert.equal(classify('GET', '/v2/a/tags/list?n=10', table), { kind: 'pass', upstream: 'default', upstreamPath: '/v2/a/tags/list?n=10' });
  assert.equal(classify('POST', '/v2/a/blobs/uploads/', table), { kind: 'pass', upstream: 'default', upstreamPath: '/v2/a/blobs/uploads/' });
  assert.equal(classify('GET', '/v2/a/blobs/uploads/1234-abcd', table).kind, 'pass');
});

test('malformed digests are a 400 DIGEST_INVALID; sha512 passes through untouched', () => {
  for (const ref of ['sha256:xyz', `sha256:${HEX.toUpperCase()}`, `sha256:${HEX}0`, 'latest', `md5:${HEX}`]) {
    const route = classify('GET', `/v2/a/blobs/${ref}`, table);
    assert.equal(route.kind === 'error' && route.status === 400 && route.code, 'DIGEST_INVALID', ref);
  }
  assert.equal(classify('GET', `/v2/a/blobs/sha512:${'b'.repeat(128)}`, table).kind, 'pass');
});

test('dot segments, percent-encoding and invalid names are refused, paths outside /v2/ are 404', () => {
  for (const path of [`/v2/../etc/blobs/sha256:${HEX}`, `/v2/a/%2e%2e/blobs/sha256:${HEX}`, `/v2/A_B/blobs/sha256:${HEX}`]) {
    const route = classify('GET', path, table);
    assert.equal(route.kind === 'error' && route.status, 400, path);
  }
  const outside = classify('GET', '/etc/passwd', table);
  assert.equal(outside.kind === 'error' && outside.status, 404);
  assert.equal(classify('GET', '/healthz', table), { kind: 'health' });
  assert.equal(classify('GET', '/metrics', table), { kind: 'metrics' });
});

test('with only prefixed registries, /v2/ is answered locally and unknown hosts are a 404', () => {
  const prefixedOnly: RouteTable = { ...table, defaultUpstream: null };
  assert.equal(classify('GET', '/v2/', prefixedOnly), { kind: 'api-version' });
  const unknown = classify('GET', '/v2/other.example/a/manifests/v1', prefixedOnly);
  assert.equal(unknown.kind === 'error' && unknown.code, 'NAME_UNKNOWN');
});

test('property: any request path classifies without throwing and never leaves /v2/ upstream', () => {
  const segment = fc.oneof(fc.constantFrom('v2', 'blobs', 'manifests', '..', '.', '', '%2e%2e', 'a\\..\\..', 'registry-b.example:5000', `sha256:${HEX}`),
    fc.string({ maxLength: 12 }));
  checkProperty(import.meta.url, 'routes-stay-in-v2', fc.property(
    fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE'), fc.array(segment, { maxLength: 8 }), fc.string({ maxLength: 10 }),
    (method, segments, query) => {
      const route = classify(method, `/${segments.join('/')}${query ? `?${query}` : ''}`, table);
      if (route.kind !== 'pass' && route.kind !== 'blob') return true;
      // What the upstream request will really ask for, after URL resolution.
      return new URL(route.upstreamPath, 'http://registry.example').pathname.startsWith('/v2/');
    }), { numRuns: 2000 });
});

test('property: the verified prefix is the longest gap-free run from byte 0, in any arrival order', () => {
  checkProperty(import.meta.url, 'contiguous-prefix', fc.property(
    fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 30 }).chain((sizes) =>
      fc.tuple(fc.constant(sizes), fc.shuffledSubarray(sizes.map((_, i) => i), { minLength: 0, maxLength: sizes.length }))),
    ([sizes, order]) => {
      const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
      const prefix = new ContiguousPrefix();
      const seen = new Set<number>();
      for (const piece of order) {
        prefix.add(starts[piece], starts[piece] + sizes[piece]);
        seen.add(piece);
        let expected = 0;
        for (let i = 0; i < sizes.length && seen.has(i); i++) expected += sizes[i];
        if (prefix.bytes !== expected) return false;
      }
      return true;
    }));
});

test('options: flags over the YAML file, extra registries, errors that say what to fix', () => {
  const yaml = [
    'registry: http://127.0.0.1:5000',
    'node: [127.0.0.1:8002, 127.0.0.1:8003]',
    'fallback: false',
    'registries:',
    '  - host: registry-b.example:5000',
    '    url: https://registry-b.example:5000',
    '    insecure: true',
  ].join('\n');
  const config = resolveConfig({ port: '0', home: '/tmp/sdf-home', registry: 'https://registry.example' }, yaml, 'dfdaemon.yml');
  assert.equal(config.defaultUpstream?.url, 'https://registry.example');
  assert.equal(config.supernodes, ['127.0.0.1:8002', '127.0.0.1:8003']);
  assert.equal(config.fallback, false);
  assert.equal(config.localRepoDir, '/tmp/sdf-home/dfdaemon/data');
  assert.equal(config.hostUpstreams.map((u) => [u.key, u.url, u.insecure]), [['registry-b.example:5000', 'https://registry-b.example:5000', true]]);
  assert.throws(() => resolveConfig({}), /no upstream registry: pass --registry/);
  assert.throws(() => resolveConfig({ registry: 'ftp://x' }), /must start with http:\/\/ or https:\/\//);
  assert.throws(() => resolveConfig({ registry: 'http://x/v2/' }), /no path/);
  assert.throws(() => resolveConfig({ registry: 'http://x', cacert: '/ca.pem' }), /only applies to an https/);
  assert.throws(() => resolveConfig({ registry: 'http://x', node: 'nohost' }), /--node takes host:port/);
  assert.throws(() => resolveConfig({ registry: 'http://x' }, 'registyr: 1', 'f.yml'), /f.yml: unknown setting "registyr"/);
  assert.throws(() => resolveConfig({ registry: 'http://x', locallimit: 'fast' }), /--locallimit/);
});

test.run();

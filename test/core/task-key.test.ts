import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { checkProperty } from '../helpers/fc-rerun.ts';
import { taskKey } from '../../core/task-key.ts';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

test('canonical form: scheme and host case, default port and fragment do not matter', () => {
  const key = taskKey({ url: 'HTTP://Example.COM:80/a/b.tar?x=1#part' });
  assert.is(key, 'http://example.com/a/b.tar?x=1');
  assert.is(taskKey({ url: 'http://example.com/a/b.tar?x=1' }), key);
  assert.is.not(taskKey({ url: 'http://example.com/a/B.tar?x=1' }), key, 'paths are case-sensitive');
  assert.is.not(taskKey({ url: 'http://example.com:8080/a/b.tar?x=1' }), key);
});

test('filtered query keys do not change the key; the remaining keys are sorted', () => {
  const filterQueryKeys = ['Expires', 'Signature'];
  const a = taskKey({ url: 'https://oss.example/f.bin?Expires=1&b=2&Signature=abc&a=1', filterQueryKeys });
  const b = taskKey({ url: 'https://oss.example/f.bin?a=1&Signature=zzz&b=2&Expires=999', filterQueryKeys });
  assert.is(a, 'https://oss.example/f.bin?a=1&b=2');
  assert.is(b, a);
  assert.is(taskKey({ url: 'https://oss.example/f.bin?Expires=1', filterQueryKeys }), 'https://oss.example/f.bin');
  assert.is.not(taskKey({ url: 'https://oss.example/f.bin?expires=1', filterQueryKeys }), 'https://oss.example/f.bin', 'filter is case-sensitive');
  assert.is(taskKey({ url: 'http://o/f?k=2&j=0&k=1' }), 'http://o/f?j=0&k=2&k=1', 'values of a repeated key keep their order');
});

test('digest and identifier change the key, and cannot be confused with each other', () => {
  const url = 'http://o/f';
  const plain = taskKey({ url });
  const withDigest = taskKey({ url, digest: DIGEST });
  const withIdentifier = taskKey({ url, identifier: 'build-42' });
  const both = taskKey({ url, digest: DIGEST, identifier: 'build-42' });
  assert.is(withDigest, `http://o/f#digest=sha256%3A${'ab'.repeat(32)}`);
  assert.is(new Set([plain, withDigest, withIdentifier, both]).size, 4);
  assert.is(taskKey({ url, digest: '', identifier: '' }), plain, 'empty means not given');
  assert.is.not(taskKey({ url, digest: 'x&identifier=y' }), taskKey({ url, digest: 'x', identifier: 'y' }));
});

test('a URL that cannot be a source gives a typed error, not a throw', () => {
  for (const [url, message] of [['not a url', /not a valid URL: "not a url"/], ['', /not a valid URL/], ['/relative/path', /absolute URL/],
    ['ftp://o/f', /unsupported URL scheme "ftp:".*http:\/\/ or https:\/\//], ['file:///etc/passwd', /unsupported URL scheme "file:"/]] as const) {
    const key = taskKey({ url });
    assert.type(key, 'object', url);
    if (typeof key !== 'string') {
      assert.is(key.kind, 'task-key-error');
      assert.is(key.url, url);
      assert.match(key.message, message);
    }
  }
});

test('property: adding, removing or reordering filtered parameters never changes the key', () => {
  const keyArb = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,8}$/);
  const paramArb = fc.tuple(keyArb, fc.string({ maxLength: 10 }));
  checkProperty(import.meta.url, 'filtered params', fc.property(
    fc.array(paramArb, { maxLength: 6 }), fc.uniqueArray(keyArb, { minLength: 1, maxLength: 3 }), fc.array(fc.tuple(fc.nat(), fc.string({ maxLength: 10 })), { maxLength: 5 }),
    (kept, filterQueryKeys, noise) => {
      const keptOnly = kept.filter(([k]) => !filterQueryKeys.includes(k));
      const noisy = [...keptOnly];
      for (const [at, value] of noise) noisy.splice(at % (noisy.length + 1), 0, [filterQueryKeys[at % filterQueryKeys.length], value]);
      const url = (params: [string, string][]) => `http://origin.test/file?${new URLSearchParams(params).toString()}`;
      assert.is(taskKey({ url: url(noisy), filterQueryKeys }), taskKey({ url: url(keptOnly), filterQueryKeys }));
    },
  ), { numRuns: 500 });
});

test('property: distinct unfiltered query values give distinct keys', () => {
  checkProperty(import.meta.url, 'distinct values', fc.property(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), (a, b) => {
    fc.pre(a !== b);
    const key = (v: string) => taskKey({ url: `http://o/f?v=${encodeURIComponent(v)}` });
    assert.is.not(key(a), key(b));
  }), { numRuns: 300 });
});

test.run();

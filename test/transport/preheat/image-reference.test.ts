/** The `preheat --image` reference: registry (with scheme and port), repository, tag or digest. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseImageReference } from '../../../transport/preheat/image-reference.ts';

const D = `sha256:${'a'.repeat(64)}`;

test('registry, repository, tag or digest; https unless http:// is given; latest by default', () => {
  assert.equal(parseImageReference('http://127.0.0.1:5000/test/app:v1'), { registry: 'http://127.0.0.1:5000', repository: 'test/app', reference: { kind: 'tag', tag: 'v1' } });
  assert.equal(parseImageReference('registry.example/team/app'), { registry: 'https://registry.example', repository: 'team/app', reference: { kind: 'tag', tag: 'latest' } });
  assert.equal(parseImageReference(`registry.example:5000/app:v1@${D}`), { registry: 'https://registry.example:5000', repository: 'app', reference: { kind: 'digest', digest: D } });
});

test('what is wrong is said', () => {
  assert.match(parseImageReference('alpine:3') as string, /names no registry; write registry\[:port\]\/repository/);
  assert.match(parseImageReference('r.example/app@sha256:12') as string, /is not sha256:<64 hex digits>/);
});

test.run();

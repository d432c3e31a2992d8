import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { redactCredentials } from '../../transport/redact.ts';

test('user information of every URL in a text is replaced, nothing else', () => {
  assert.is(redactCredentials('GET http://alice:s3cret@host:8080/f.bin failed'), 'GET http://***@host:8080/f.bin failed');
  assert.is(redactCredentials('https://TOKEN@github.com/x and HTTP://u:p@a/b'), 'https://***@github.com/x and HTTP://***@a/b');
  assert.is(redactCredentials('http://host/v2/repo@sha256:abc?x=a@b#c@d'), 'http://host/v2/repo@sha256:abc?x=a@b#c@d');
  assert.is(redactCredentials('no url, user@example.org mail'), 'no url, user@example.org mail');
  assert.is(redactCredentials('http://u%40corp:p%3Aw@host/'), 'http://***@host/');
});

test.run();

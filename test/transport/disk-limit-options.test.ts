/**
 * The size-limit and managing-node flags of every process, as parsed: `supernode --cache-max`,
 * `dfdaemon --repo-max/--data-max/--manager/--idc/--location` (flags and YAML), `dfget
 * --data-max/--manager` (its --help lists them), and what a bad value is told.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../bench/testbed/processes.ts';
import { resolveConfig } from '../../transport/dfdaemon/options.ts';
import { parseOptions, UsageError } from '../../transport/supernode/options.ts';

test('supernode --cache-max: a size or a share of the disk, default 90 %', () => {
  assert.equal(parseOptions(['node', 'supernode']).cacheLimit, { kind: 'disk-use', maxPercent: 90 });
  assert.equal(parseOptions(['node', 'supernode', '--cache-max', '64MiB']).cacheLimit, { kind: 'bytes', maxBytes: 64 * 1024 * 1024 });
  assert.equal(parseOptions(['node', 'supernode', '--cache-max', '75%']).cacheLimit, { kind: 'disk-use', maxPercent: 75 });
  assert.throws(() => parseOptions(['node', 'supernode', '--cache-max', '150%']), (err: Error) =>
    err instanceof UsageError && /--cache-max: a share of the disk must be from 1% to 99%/.test(err.message));
});

test('dfdaemon: --repo-max, --data-max, --manager with --idc and --location, from flags or YAML', () => {
  const base = { registry: 'http://registry.test:5000', home: '/tmp/sdf-home' };
  const defaults = resolveConfig(base);
  assert.equal([defaults.repoLimit, defaults.dataLimit], [{ kind: 'disk-use', maxPercent: 90 }, { kind: 'disk-use', maxPercent: 90 }]);
  assert.equal(defaults.managers, []);
  const flags = resolveConfig({ ...base, repoMax: '20GiB', dataMax: '50%', manager: 'http://10.0.0.9:8004,10.0.0.8:8004', idc: 'hz-1', location: 'cn|hz' });
  assert.equal(flags.repoLimit, { kind: 'bytes', maxBytes: 20 * 1024 ** 3 });
  assert.equal(flags.managers, ['http://10.0.0.9:8004', 'http://10.0.0.8:8004']);
  assert.equal(flags.supernodes, [], 'the supernodes come from the manager');
  assert.equal([flags.idc, flags.location], ['hz-1', 'cn|hz']);
  const yaml = resolveConfig(base, 'manager: [http://10.0.0.9:8004]\nidc: sh\nrepo-max: 1GiB\ndata-max: 80%\n', 'd.yml');
  assert.equal([yaml.managers, yaml.idc, yaml.repoLimit, yaml.dataLimit], [['http://10.0.0.9:8004'], 'sh', { kind: 'bytes', maxBytes: 1024 ** 3 }, { kind: 'disk-use', maxPercent: 80 }]);
  assert.throws(() => resolveConfig({ ...base, node: '127.0.0.1:8002', manager: 'http://m:1' }), /give --node or --manager/);
  assert.throws(() => resolveConfig({ ...base, repoMax: 'lots' }), /--repo-max: expected a size \(64GiB\) or a share of the disk/);
  assert.throws(() => resolveConfig({ ...base, manager: 'ftp://m' }), /--manager: .* must be http\(s\):\/\/host:port/);
  assert.throws(() => resolveConfig({ ...base, idc: 'a b' }), /--idc: idc "a b" may hold only letters/);
});

test('dfget: --help lists the new flags; a bad --data-max or --node with --manager exits 2', () => {
  const dfget = (...args: string[]) => spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'dfget.js'), ...args], { encoding: 'utf8' });
  const help = dfget('--help');
  for (const flag of ['--manager', '--idc', '--location', '--data-max']) assert.ok(help.stdout.includes(flag), `--help lacks ${flag}`);
  const bad = dfget('--url', 'http://x/y', '--output', '/tmp/sdf-never', '--data-max', '0');
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /--data-max.*a size limit must be above 0/);
  const both = dfget('--url', 'http://x/y', '--output', '/tmp/sdf-never', '--node', '127.0.0.1:1', '--manager', 'http://127.0.0.1:1');
  assert.is(both.status, 2);
  assert.match(both.stderr, /give --node or --manager, not both/);
});

test.run();

/**
 * A private containerd for a test: Debian's `containerd` run as its own process with its own
 * root, state, socket and config under a temp dir (never the system's containerd or its socket),
 * driven with `ctr --address <socket>`. Pulls use `--hosts-dir` with a `hosts.toml` per registry,
 * the same files a node keeps in /etc/containerd/certs.d. The native snapshotter unpacks layers by
 * copying files, so no overlay mount is needed (works inside containers and leaves no mounts).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, stopChild } from './registry.ts';

export const CONTAINERD_TOOLS = ['containerd', 'ctr'] as const;
const NAMESPACE = 'sdf-test';

/** Why containerd cannot run here (missing binaries, not root), or null when it can. */
export async function containerdUnavailable(): Promise<string | null> {
  const missing: string[] = [];
  for (const tool of CONTAINERD_TOOLS) {
    try {
      await run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      missing.push(tool);
    }
  }
  if (missing.length > 0) return `${missing.join(', ')} not on PATH (Debian: apt-get install containerd; .ci/run does this)`;
  if (process.getuid?.() !== 0) return 'containerd needs root to run its content store and snapshotter; run the tests as root (CI does)';
  return null;
}

export interface RunningContainerd {
  dir: string;
  socket: string;
  /** `ctr --address <socket> -n sdf-test <args>`; resolves with stdout. */
  ctr(args: string[]): Promise<string>;
  /** A blob from containerd's content store, as bytes. */
  content(digest: string): Promise<Buffer>;
  /** Registry host (`127.0.0.1:1`) -> hosts.toml mirroring it to `mirrorUrl` only. */
  mirror(registryHost: string, serverUrl: string, mirrorUrl: string): Promise<void>;
  hostsDir: string;
  logs(): string;
  stop(): Promise<void>;
}

export async function startContainerd(dir: string): Promise<RunningContainerd> {
  await mkdir(dir, { recursive: true });
  const socket = join(dir, 'containerd.sock');
  const hostsDir = join(dir, 'certs.d');
  const configPath = join(dir, 'config.toml');
  await writeFile(configPath, [
    'version = 2',
    `root = "${join(dir, 'root')}"`,
    `state = "${join(dir, 'state')}"`,
    // Only what a pull needs: no CRI (it would want CNI and a kubelet), no snapshotters that need devices.
    'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", ' +
      '"io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs"]',
    '[grpc]', `  address = "${socket}"`,
    '[ttrpc]', `  address = "${socket}.ttrpc"`,
    '[debug]', '  address = ""',
    '[metrics]', '  address = ""',
    '[plugins."io.containerd.internal.v1.opt"]', `  path = "${join(dir, 'opt')}"`,
    '',
  ].join('\n'));
  const child = spawn('containerd', ['--config', configPath, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-16_000); });
  const ctr = (args: string[]) => run('ctr', ['--address', socket, '-n', NAMESPACE, ...args]);
  try {
    await waitForSocket(child, ctr);
  } catch (err) {
    await stopChild(child);
    throw new Error(`containerd did not start: ${(err as Error).message}\n${stderr}`);
  }
  return {
    dir, socket, hostsDir, ctr,
    content: (digest) => contentBytes(socket, digest),
    mirror: async (registryHost, serverUrl, mirrorUrl) => {
      await mkdir(join(hostsDir, registryHost), { recursive: true });
      await writeFile(join(hostsDir, registryHost, 'hosts.toml'), hostsToml(serverUrl, mirrorUrl));
    },
    logs: () => stderr,
    stop: () => stopChild(child),
  };
}

/** The hosts.toml the tests use and the README shows: pull and resolve through the mirror. */
export function hostsToml(serverUrl: string, mirrorUrl: string): string {
  return [`server = "${serverUrl}"`, '', `[host."${mirrorUrl}"]`, '  capabilities = ["pull", "resolve"]', ''].join('\n');
}

async function waitForSocket(child: ChildProcess, ctr: (args: string[]) => Promise<string>): Promise<void> {
  const deadline = Date.now() + 20_000;
  let lastError = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
    try {
      await ctr(['version']);
      return;
    } catch (err) {
      lastError = (err as Error).message.split('\n')[0];
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no answer on its socket within 20 s (${lastError})`);
}

function contentBytes(socket: string, digest: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile('ctr', ['--address', socket, '-n', NAMESPACE, 'content', 'get', digest], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => (err ? reject(new Error(`ctr content get ${digest}: ${err.message}\n${stderr.toString()}`)) : resolve(stdout)));
  });
}

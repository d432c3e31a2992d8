/**
 * The bytes of admission grants (core/protocol.ts `Grant`): the supernode signs, every uploader
 * (and the supernode's own data plane) verifies. Core decides who is admitted and for how long;
 * this file only turns that decision into an Ed25519 signature and back.
 *
 * - Key: one Ed25519 key pair per supernode, kept in `<home>/keys/grant-ed25519.pem` (mode 0600)
 *   so a restarted supernode still honours the grants it issued. Its public half travels to peers
 *   in `task-info` as base64 of the DER SubjectPublicKeyInfo (`supernodeKey`); a host's uploader
 *   trusts it for that task because its own download (or seeder) got it from the supernode it
 *   registered with.
 * - Signed bytes: the JSON array `["sdf-grant-v1", taskId, peer, expiresAtMs]`.
 * - Time: core machines run on this process's monotonic clock (performance.now()); on the wire
 *   an expiry is epoch milliseconds (`performance.timeOrigin` + the monotonic value), which every
 *   host reads the same within its clock's skew. Grants last an hour by default, so a few seconds
 *   of skew do not matter.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Grant, TaskId } from '../core/protocol.ts';
import type { VerifiedGrant } from '../core/uploader.ts';
import { makeDirs } from './make-dirs.ts';

/** Epoch ms of a time on this process's monotonic clock (what core machines are fed). */
export function wireTimeOf(monotonicMs: number): number {
  return Math.round(performance.timeOrigin + monotonicMs);
}

/** This process's monotonic time of an epoch-ms time from the wire. */
export function monotonicTimeOf(epochMs: number): number {
  return epochMs - performance.timeOrigin;
}

function signedBytes(grant: Grant): Buffer {
  return Buffer.from(JSON.stringify(['sdf-grant-v1', grant.taskId, grant.peer, grant.expiresAtMs]));
}

/** The supernode's signing key. */
export class GrantKey {
  /** base64 DER SubjectPublicKeyInfo: what peers are told to trust. */
  readonly publicKeyText: string;

  private constructor(private readonly privateKey: KeyObject) {
    this.publicKeyText = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).toString('base64');
  }

  /** A fresh key, kept in memory only (tests). */
  static generate(): GrantKey {
    return new GrantKey(generateKeyPairSync('ed25519').privateKey);
  }

  /** The key in `<home>/keys/`, created (owner-only) on first use. */
  static async forHome(home: string): Promise<GrantKey> {
    const dir = join(home, 'keys');
    const path = join(dir, 'grant-ed25519.pem');
    const pem = await readFile(path, 'utf8').catch(() => null);
    if (pem !== null) return new GrantKey(createPrivateKey(pem));
    await makeDirs(dir);
    const key = generateKeyPairSync('ed25519').privateKey;
    const partial = `${path}.tmp`;
    await writeFile(partial, key.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    await chmod(partial, 0o600);
    await rename(partial, path);
    return new GrantKey(key);
  }

  /** Sign a grant the core issued (its expiry on this process's monotonic clock) for the wire. */
  issue(coreGrant: Grant): Grant {
    const grant = { ...coreGrant, expiresAtMs: wireTimeOf(coreGrant.expiresAtMs), signature: '' };
    return { ...grant, signature: sign(null, signedBytes(grant), this.privateKey).toString('base64') };
  }
}

/** Verified signatures remembered, so a peer's stream of requests costs one Ed25519 check. */
const REMEMBERED_SIGNATURES = 4096;

/** Checks grants against the keys trusted for their task. */
export class GrantVerifier {
  private readonly keys = new Map<string, KeyObject | null>();
  private readonly verified = new Map<string, string>();

  /**
   * The grant as the core Uploader takes it: its task and expiry (on this process's clock), or
   * null when there is none, it is for another task, or no key in `trusted` signed it.
   */
  check(taskId: TaskId, grant: Grant | undefined, trusted: Iterable<string>): VerifiedGrant | null {
    if (!grant || grant.taskId !== taskId) return null;
    const remembered = this.verified.get(grant.signature);
    const valid = remembered !== undefined ? remembered === signedBytes(grant).toString() : this.verify(grant, trusted);
    return valid ? { taskId: grant.taskId, expiresAtMs: monotonicTimeOf(grant.expiresAtMs) } : null;
  }

  private verify(grant: Grant, trusted: Iterable<string>): boolean {
    const bytes = signedBytes(grant);
    let signature: Buffer;
    try {
      signature = Buffer.from(grant.signature, 'base64');
    } catch {
      return false;
    }
    for (const text of trusted) {
      const key = this.keyOf(text);
      if (key && signature.length === 64 && verify(null, bytes, key, signature)) {
        if (this.verified.size >= REMEMBERED_SIGNATURES) this.verified.delete(this.verified.keys().next().value as string);
        this.verified.set(grant.signature, bytes.toString());
        return true;
      }
    }
    return false;
  }

  private keyOf(text: string): KeyObject | null {
    let key = this.keys.get(text);
    if (key === undefined) {
      try {
        key = createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' });
        if (key.asymmetricKeyType !== 'ed25519') key = null;
      } catch {
        key = null;
      }
      if (this.keys.size >= REMEMBERED_SIGNATURES) this.keys.delete(this.keys.keys().next().value as string);
      this.keys.set(text, key);
    }
    return key;
  }
}

/**
 * An image reference as the `preheat` command takes it:
 * `[http(s)://]registry[:port]/repository[:tag][@sha256:<hex>]` — the registry host is always
 * named (no implicit Docker Hub: write `registry-1.docker.io/library/alpine:3.20`); https unless
 * `http://` is given; a digest wins over a tag; no tag and no digest means `latest`.
 */
import type { ImageReference } from '../../core/preheat-api.ts';

export interface ParsedImage { registry: string; repository: string; reference: ImageReference }

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** The parts of `text`, or a string saying what is wrong. */
export function parseImageReference(text: string): ParsedImage | string {
  const scheme = /^(https?):\/\//.exec(text);
  const rest = scheme ? text.slice(scheme[0].length) : text;
  const slash = rest.indexOf('/');
  if (slash <= 0) return `"${text}" names no registry; write registry[:port]/repository[:tag], e.g. registry.example:5000/team/app:v1`;
  const host = rest.slice(0, slash);
  let path = rest.slice(slash + 1);
  let reference: ImageReference = { kind: 'tag', tag: 'latest' };
  const at = path.indexOf('@');
  if (at >= 0) {
    const digest = path.slice(at + 1);
    if (!DIGEST.test(digest)) return `"${digest}" is not sha256:<64 hex digits>`;
    reference = { kind: 'digest', digest };
    path = path.slice(0, at);
  }
  const colon = path.lastIndexOf(':');
  if (colon > 0) {
    if (reference.kind === 'tag') reference = { kind: 'tag', tag: path.slice(colon + 1) };
    path = path.slice(0, colon);
  }
  let registry: URL;
  try {
    registry = new URL(`${scheme?.[1] ?? 'https'}://${host}`);
  } catch {
    return `"${host}" is not a registry host[:port]`;
  }
  return { registry: registry.origin, repository: path, reference };
}

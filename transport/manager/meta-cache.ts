/**
 * The manager's answer cached in the meta directory (`<home>/meta/manager.json`), so the next job
 * finds its supernodes without asking (seed: "dfget reads the meta information from this
 * directory, avoiding accessing the managing node repeatedly").
 *
 * It sits beside dfget's `node.json` and `supernodes.json` (home.ts) and touches neither. A cache is
 * used only for the question it answers: the same managers, IDC and location — a host moved to
 * another IDC asks again. A file that is unreadable, corrupt or from another version counts as no
 * cache (the seed's advice "delete all files from the meta directory" is then never needed for
 * this file); it is written to a temporary name and renamed, so a crash leaves the old or the new.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { decodeChooseAnswer, type ChooseQuery, type SupernodeInfo } from '../../core/manager-api.ts';

export const MANAGER_META_FILE = 'manager.json';
const META_MAX_BYTES = 1024 * 1024;

export interface ManagerMeta {
  version: 1;
  managers: string[];
  idc: string;
  location: string;
  assigned: string | null;
  supernodes: SupernodeInfo[];
  fetchedAtEpochMs: number;
}

/** The cached answer for these managers and this place, or null. */
export async function readManagerMeta(metaDir: string, managers: string[], query: ChooseQuery): Promise<ManagerMeta | null> {
  let text: string;
  try {
    const path = join(metaDir, MANAGER_META_FILE);
    const stat = await fs.stat(path);
    if (stat.size > META_MAX_BYTES) return null;
    text = await fs.readFile(path, 'utf8');
  } catch {
    return null;
  }
  let raw: Partial<ManagerMeta>;
  try {
    raw = JSON.parse(text) as Partial<ManagerMeta>;
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null || raw.version !== 1 || raw.idc !== query.idc || raw.location !== query.location) return null;
  if (!Array.isArray(raw.managers) || raw.managers.join(',') !== managers.join(',')) return null;
  if (typeof raw.fetchedAtEpochMs !== 'number' || !Number.isFinite(raw.fetchedAtEpochMs)) return null;
  // The list is checked as strictly as a manager's own answer: a hand-edited file cannot inject junk.
  const answer = decodeChooseAnswer(JSON.stringify({ assigned: raw.assigned ?? null, supernodes: raw.supernodes ?? null }));
  if (!answer.ok || answer.msg.supernodes.length === 0) return null;
  return {
    version: 1, managers, idc: query.idc, location: query.location,
    assigned: answer.msg.assigned, supernodes: answer.msg.supernodes, fetchedAtEpochMs: raw.fetchedAtEpochMs,
  };
}

export async function writeManagerMeta(metaDir: string, meta: ManagerMeta): Promise<void> {
  await fs.mkdir(metaDir, { recursive: true });
  const path = join(metaDir, MANAGER_META_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  await fs.writeFile(tmp, `${JSON.stringify(meta, null, 2)}\n`);
  await fs.rename(tmp, path);
}

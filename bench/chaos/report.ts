/**
 * The campaign's report: `chaos.md` (the figures table, faults per kind, fuzzing per port, and
 * every finding with how to replay it) and CSVs (`sim-seeds.csv`, `live-rounds.csv`, `fuzz.csv`)
 * in the output dir.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'csv-stringify/sync';
import type { FuzzOutcome } from './fuzz-campaign.ts';
import type { LiveRoundResult } from './live-campaign.ts';
import type { SimSeedOutcome } from './sim-seed.ts';

export interface Campaign {
  command: string;
  startedAt: string;
  wallSeconds: number;
  loadAverage: number[];
  sim: SimSeedOutcome[];
  live: LiveRoundResult[];
  fuzz: FuzzOutcome | null;
}

const sum = <T>(items: T[], pick: (item: T) => number): number => items.reduce((total, item) => total + pick(item), 0);

export function figures(c: Campaign): [string, number][] {
  const fuzzPorts = c.fuzz?.ports ?? [];
  return [
    ['simulated seeds', c.sim.length],
    ['simulated seeds failing a check', c.sim.filter((s) => s.problems.length > 0).length],
    ['simulated corrupt pieces accepted', sum(c.sim, (s) => s.corruptAccepted)],
    ['simulated surviving hosts unfinished', sum(c.sim, (s) => s.survivors - s.completed)],
    ['simulated honest hosts blacklisted', sum(c.sim, (s) => s.honestBlacklisted.length)],
    ['live rounds', c.live.length],
    ['live downloads checked', sum(c.live, (r) => r.downloads)],
    ['live corrupt outputs', sum(c.live, (r) => r.corruptOutputs)],
    ['live failed downloads (expected to succeed)', sum(c.live, (r) => r.failedDownloads)],
    ['live clean failures (full disk, changed source)', sum(c.live, (r) => r.cleanFailures)],
    ['live hangs (round past its deadline)', c.live.filter((r) => r.hung).length],
    ['live honest hosts blacklisted', sum(c.live, (r) => r.honestBlacklisted)],
    ['leaked processes (live + fuzz)', sum(c.live, (r) => r.leaked) + (c.fuzz?.leaked ?? 0)],
    ['fuzz inputs (all ports)', sum(fuzzPorts, (p) => p.inputs)],
    ['fuzzed processes crashed', fuzzPorts.filter((p) => p.crashed).length],
    ['fuzzed ports not serving a download after', fuzzPorts.filter((p) => !p.servesAfter).length],
  ];
}

function faultTable(c: Campaign): string {
  const counts = new Map<string, number>();
  const add = (faults: Record<string, number>): void => { for (const [k, v] of Object.entries(faults)) counts.set(k, (counts.get(k) ?? 0) + v); };
  c.sim.forEach((s) => add(s.faults));
  c.live.forEach((r) => add(r.faults));
  return ['| fault | injected |', '|---|---:|', ...[...counts].map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
}

function findings(c: Campaign): string[] {
  const out: string[] = [];
  for (const s of c.sim) out.push(...s.problems);
  for (const r of c.live) {
    const bad = r.corruptOutputs + r.failedDownloads + r.honestBlacklisted + r.leaked > 0 || r.hung;
    if (bad) out.push(`live round ${r.round} (${r.kind}): ${r.notes.join('; ')}\n  rerun: npm run chaos -- --seeds 0 --first-round ${r.round} --rounds 1 --no-fuzz`);
  }
  for (const p of c.fuzz?.ports ?? []) if (p.crashed || !p.servesAfter) out.push(`fuzz ${p.port}: ${p.crashed ? 'the process died; ' : ''}${p.servesAfter ? '' : 'no real download after fuzzing'} ${p.note}`);
  return out;
}

export function renderMarkdown(c: Campaign): string {
  const fuzzRows = (c.fuzz?.ports ?? []).map((p) => `| ${p.port} | ${p.inputs} | ${p.closes} | ${p.answered} | ${p.crashed ? 'yes' : 'no'} | ${p.servesAfter ? 'yes' : 'NO'} |`);
  const found = findings(c);
  return [
    '# Chaos campaign', '',
    `\`${c.command}\` — started ${c.startedAt}, ${(c.wallSeconds / 60).toFixed(1)} min wall, load average at the end ${c.loadAverage.map((l) => l.toFixed(2)).join(' / ')} (1/5/15 min, 2 cores).`, '',
    '| figure | value |', '|---|---:|', ...figures(c).map(([k, v]) => `| ${k} | ${v} |`), '',
    '## Faults injected', '', faultTable(c), '',
    '## Fuzzing', '', '| port | inputs | connections closed | answers | crashed | serves a download after |', '|---|---:|---:|---:|---|---|', ...fuzzRows, '',
    '## Findings', '', ...(found.length > 0 ? found.map((f) => `- ${f.replace(/\n/g, '\n  ')}`) : ['none']), '',
  ].join('\n');
}

export function writeReport(outDir: string, c: Campaign): string {
  mkdirSync(outDir, { recursive: true });
  const md = join(outDir, 'chaos.md');
  writeFileSync(md, renderMarkdown(c));
  writeFileSync(join(outDir, 'figures.csv'), stringify(figures(c), { header: true, columns: ['figure', 'value'] }));
  writeFileSync(join(outDir, 'sim-seeds.csv'), stringify(c.sim.map((s) => ({
    seed: s.seed, survivors: s.survivors, completed: s.completed, corruptAccepted: s.corruptAccepted, honestBlacklisted: s.honestBlacklisted.join(' '),
    liedReports: s.liedReports, corruptRejected: s.corruptRejected, problems: s.problems.length,
  })), { header: true }));
  writeFileSync(join(outDir, 'live-rounds.csv'), stringify(c.live.map((r) => ({
    round: r.round, kind: r.kind, seconds: r.seconds.toFixed(1), downloads: r.downloads, corruptOutputs: r.corruptOutputs, failedDownloads: r.failedDownloads,
    cleanFailures: r.cleanFailures, hung: r.hung, honestBlacklisted: r.honestBlacklisted, leaked: r.leaked, notes: r.notes.join(' | '),
  })), { header: true }));
  writeFileSync(join(outDir, 'fuzz.csv'), stringify((c.fuzz?.ports ?? []).map((p) => ({ ...p })), { header: true }));
  return md;
}

/**
 * A one-line progress bar for a terminal: bytes done, rate, and how much came from peers versus
 * the supernode. Redrawn at most every `intervalMs`; the caller only shows it on a TTY.
 */
import { formatBytes } from '../../core/units.ts';
import type { DownloadProgress } from './download-request.ts';

const BAR_CELLS = 24;

export class ProgressBar {
  private lastDrawMs = 0;
  private readonly startMs = performance.now();
  private drawn = false;

  constructor(private readonly out: NodeJS.WriteStream, private readonly intervalMs = 200) {}

  update(p: DownloadProgress, force = false): void {
    const nowMs = performance.now();
    if (!force && nowMs - this.lastDrawMs < this.intervalMs) return;
    this.lastDrawMs = nowMs;
    this.out.write(`\r${renderProgress(p, (nowMs - this.startMs) / 1000)}\x1b[K`);
    this.drawn = true;
  }

  /** End the bar's line so later output starts on a fresh one. */
  finish(): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}

export function renderProgress(p: DownloadProgress, elapsedSec: number): string {
  const fraction = p.totalBytes > 0 ? Math.min(1, p.bytesDone / p.totalBytes) : 0;
  const filled = Math.round(fraction * BAR_CELLS);
  const bar = '#'.repeat(filled) + '.'.repeat(BAR_CELLS - filled);
  const rate = elapsedSec > 0 ? p.bytesDone / elapsedSec : 0;
  const fetched = p.fromPeersBytes + p.fromSupernodeBytes;
  const peerShare = fetched > 0 ? Math.round((100 * p.fromPeersBytes) / fetched) : 0;
  return `[${bar}] ${Math.floor(fraction * 100)}% ${formatBytes(p.bytesDone)}/${formatBytes(p.totalBytes)} `
    + `${formatBytes(rate)}/s peers ${peerShare}% supernode ${fetched > 0 ? 100 - peerShare : 0}%`;
}

/**
 * How busy the hosts' download links were, from each host's start to its completion, in the
 * simulation and live. Where the hosts' downlinks set T_min (shaped-16: every host's downlink
 * equals the origin's uplink) a host can only finish near T_min if its downlink runs full from
 * its first byte to its last, so this says whether a slow run's links idled or carried something
 * other than the file.
 *
 * - simulated: the file's bytes in wire terms (÷ goodput: TCP/IP headers), over the link's wire
 *   rate × the host's simulated completion time; the simulator moves nothing else;
 * - live: every byte the hosts' shaped download queues sent (tc's counters over the run: headers,
 *   retransmissions, control messages and the ACKs of the host's own uploads), over the same
 *   capacity × the live completion time; and, beside it, the file's bytes alone in wire terms.
 *   The gap between the two live figures is what the links carried besides the file; what
 *   remains to 100 % is time the links stood idle.
 */
import type { HostRow } from './compare.ts';

export interface DownlinkUse {
  simPercent: number;
  livePercent: number;
  liveFilePercent: number;
}

/** Null unless every host finished both ways and the live byte count is known. */
export function downlinkUse(rows: readonly HostRow[], fileSizeBytes: number, goodput: number, hostsLinkBytesDown: number | null): DownlinkUse | null {
  if (hostsLinkBytesDown === null || rows.length === 0 || !(goodput > 0)) return null;
  let simCapacityBytes = 0;
  let liveCapacityBytes = 0;
  for (const row of rows) {
    if (row.simMs === null || row.liveMs === null || !(row.simMs > 0) || !(row.liveMs > 0)) return null;
    simCapacityBytes += row.downBytesPerSec * row.simMs / 1000;
    liveCapacityBytes += row.downBytesPerSec * row.liveMs / 1000;
  }
  const fileWireBytes = rows.length * fileSizeBytes / goodput;
  return {
    simPercent: 100 * fileWireBytes / simCapacityBytes,
    livePercent: 100 * hostsLinkBytesDown / liveCapacityBytes,
    liveFilePercent: 100 * fileWireBytes / liveCapacityBytes,
  };
}

/**
 * One load-bench worker process: `count` scripted peers (bench/testbed/script-peer.ts) that each
 * register on the supernode, pull the task to completion from it, verify every piece and the
 * whole file, and leave. They connect 25 every 100 ms so the handshakes do not all land at once
 * (a burst of 1,000 in one second timed out at 10 s on the loaded machine); each pulls as soon as
 * it is connected, so all of them are registered on the task together. Prints one JSON line: peers done, failures (first few reasons).
 *
 *   node --import tsx bench/load/worker.ts <supernode addr> <url> <first index> <count> <expected digest> <timeout ms>
 */
import { fetchTask } from '../testbed/script-peer.ts';

const CONNECT_BATCH = 25;
const CONNECT_PAUSE_MS = 100;

async function main(): Promise<void> {
  const [addr, url, firstText, countText, expected, timeoutText] = process.argv.slice(2);
  const first = Number(firstText);
  const count = Number(countText);
  const timeoutMs = Number(timeoutText);
  let done = 0;
  const failures: string[] = [];
  const runs: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    runs.push(fetchTask(addr, { url, headers: {} }, `load-${first + i}`, timeoutMs).then((got) => {
      if (got.fileDigest === expected) done++;
      else failures.push(`load-${first + i}: digest ${got.fileDigest}`);
    }, (err: Error) => { failures.push(`load-${first + i}: ${err.message}`); }));
    if (i % CONNECT_BATCH === CONNECT_BATCH - 1) await new Promise((resolve) => setTimeout(resolve, CONNECT_PAUSE_MS));
  }
  await Promise.all(runs);
  process.stdout.write(`${JSON.stringify({ done, failed: failures.length, reasons: failures.slice(0, 5) })}\n`);
}

main().then(() => process.exit(0), (err: Error) => { console.error(err.stack); process.exit(1); });

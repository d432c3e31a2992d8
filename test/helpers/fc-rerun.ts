/**
 * Runs a fast-check property so that a failure says how to replay it: the thrown error carries
 * fast-check's report (seed, path, shrunk counterexample) and a command line that reruns exactly
 * that case. The replay command sets FC_PROPERTY so other properties in the file run as usual.
 */
import fc from 'fast-check';
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';

export function checkProperty<Ts>(
  testFileUrl: string, name: string, property: fc.IProperty<Ts>, params: fc.Parameters<Ts> = {},
): void {
  const replaying = process.env.FC_PROPERTY === name && process.env.FC_SEED !== undefined;
  const runParams: fc.Parameters<Ts> = replaying
    ? { ...params, seed: Number(process.env.FC_SEED), path: process.env.FC_PATH, endOnFailure: true }
    : params;
  const details = fc.check(property, runParams);
  if (!details.failed) return;
  const file = relative(process.cwd(), fileURLToPath(testFileUrl));
  const rerun = `FC_PROPERTY='${name}' FC_SEED=${details.seed} FC_PATH='${details.counterexamplePath ?? ''}' node --import tsx ${file}`;
  throw new Error(`property "${name}" failed\n${fc.defaultReportMessage(details) ?? ''}\nrerun: ${rerun}`);
}

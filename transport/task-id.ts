/**
 * Task identity on the wire: taskId is the hex SHA-256 of the canonical task key
 * (core/task-key.ts). Storage paths are derived from a taskId only after `isTaskId` accepted it,
 * so a taskId can never name a path outside a task's own directory.
 */
import { createHash } from 'node:crypto';
import { taskKey, type TaskKeyInput } from '../core/task-key.ts';

export const TASK_ID_PATTERN = /^[0-9a-f]{64}$/;

export function isTaskId(value: unknown): value is string {
  return typeof value === 'string' && TASK_ID_PATTERN.test(value);
}

/** The taskId of a download; throws an Error that says what is wrong with an unusable URL. */
export function taskIdFor(spec: TaskKeyInput): string {
  const key = taskKey(spec);
  if (typeof key !== 'string') throw new Error(key.message);
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

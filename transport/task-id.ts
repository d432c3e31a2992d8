/**
 * Task identity on the wire: taskId is the hex SHA-256 of the canonical task key. Storage paths
 * are derived from a taskId only after `isTaskId` accepted it, so a taskId can never name a
 * path outside a task's own directory.
 */
export const TASK_ID_PATTERN = /^[0-9a-f]{64}$/;

export function isTaskId(value: unknown): value is string {
  return typeof value === 'string' && TASK_ID_PATTERN.test(value);
}

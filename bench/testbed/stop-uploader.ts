/**
 * Ending the background uploaders a test, benchmark or demo left behind: each dfget starts one
 * per home dir, detached so it outlives the dfget; the home's lock file names its pid.
 */
import { readLock } from '../../transport/uploader/uploader-lock.ts';

/** Ask the uploader that holds this home's lock to exit (SIGTERM); nothing if none or gone. */
export async function stopUploaderOf(homeDir: string): Promise<void> {
  const lock = await readLock(homeDir);
  if (!lock) return;
  try {
    process.kill(lock.pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

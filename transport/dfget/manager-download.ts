/**
 * A download whose supernodes come from the managing node (`--manager`), for dfget and dfdaemon,
 * following the seed's steps through `ManagerClient` (transport/manager/client.ts): the list
 * cached in `<home>/meta/manager.json` (or the manager's answer, then cached), the assigned
 * supernode first and the others in order; when every one of them fails, the manager is asked
 * once more and the download runs again on the new list (resuming the pieces it has).
 *
 * The first run never goes back to the source, whatever the request says: a run that did would
 * never let every supernode fail, and the seed's second question to the manager would not be
 * asked. The second run has the request's own back-to-source setting.
 */
import { ManagerUnreachableError, NoSupernodeError, type ManagerClient } from '../manager/client.ts';
import { DownloadError } from './download-error.ts';
import type { DownloadRequest, DownloadResult } from './download-request.ts';

export type DownloadRun = (req: DownloadRequest) => Promise<DownloadResult>;

/** Run `req` (its `supernodes` are replaced by the manager's list) through `run`. */
export async function downloadViaManager(client: ManagerClient, req: DownloadRequest, run: DownloadRun): Promise<DownloadResult> {
  let attempt = 0;
  try {
    return await client.run(
      (supernodes) => run({ ...req, supernodes, backToSource: attempt++ > 0 && req.backToSource }),
      (err) => err instanceof DownloadError && err.code === 'supernode-unreachable',
    );
  } catch (err) {
    if (err instanceof ManagerUnreachableError || err instanceof NoSupernodeError) throw new DownloadError('supernode-unreachable', err.message);
    throw err;
  }
}

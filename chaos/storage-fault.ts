// Storage write failures in a worker process, without a hook in the worker: each worker sees the bucket through its own "view" folder.
//
// The local-directory storage writes every object to <root>/.hourglass-tmp/<random>, then links it
// under its key. A worker's view is a folder whose staging/ and deadletter/ are symlinks into the real
// bucket, with a .hourglass-tmp/ of its own. To make the worker's writes fail, that temp folder is
// moved aside and a plain file put in its place: every write then fails (ENOTDIR) before anything
// appears under a key, exactly as a storage outage looks to the worker (it retries, then nacks).
// heal() puts the folder back. The checker reads the real bucket and never sees the views.
// Limits: writes fail "before" (nothing lands). Writes that land but report failure come from the
// services' own hook (HOURGLASS_FAULTS_STORAGE_FAIL_RATE, services/storage/faulty-storage.ts), which
// the suite turns on for checker 0.
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

const TMP = '.hourglass-tmp';
/** Folders of the bucket a worker writes to. */
const WORKER_AREAS = ['staging', 'deadletter'] as const;

export interface WorkerView {
  /** file:// location to give the worker as HOURGLASS_BUCKET. */
  readonly location: string;
  readonly failing: boolean;
  fail(): Promise<void>;
  heal(): Promise<void>;
}

/** Makes a view of `bucketDir` at `viewDir`. */
export async function makeWorkerView(bucketDir: string, viewDir: string): Promise<WorkerView> {
  await mkdir(path.join(viewDir, TMP), { recursive: true });
  for (const area of WORKER_AREAS) {
    // An empty folder inside keeps the area itself from being removed when the checker tidies empty folders.
    await mkdir(path.join(bucketDir, area, '.chaos-keep'), { recursive: true });
    await symlink(path.join(bucketDir, area), path.join(viewDir, area));
  }
  let failing = false;
  const tmp = path.join(viewDir, TMP);
  const aside = path.join(viewDir, `${TMP}-healthy`);
  return {
    location: `file://${viewDir}`,
    get failing() {
      return failing;
    },
    async fail() {
      if (failing) return;
      failing = true;
      await rename(tmp, aside);
      await writeFile(tmp, 'storage outage injected by the chaos suite\n');
    },
    async heal() {
      if (!failing) return;
      await rm(tmp, { force: true });
      await rename(aside, tmp);
      failing = false;
    },
  };
}

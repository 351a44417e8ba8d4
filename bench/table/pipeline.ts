// The table benchmark's pipeline as processes on the shared emulator: SDK publishers → worker → local directory ← checker (announcing its closes), and optionally the table committer (node services/table/main.ts) on the closed-windows topic.
//
// bench/kit/pipeline-processes.ts with one more process: the committer needs the topic prefix (its
// subscription) and a schemas folder where track_played opts in, which that kit does not expose.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LocalStack } from '../../services/local-stack/local-stack.ts';
import { provisionTopics, removeTopics } from '../../services/local-stack/provision.ts';
import type { Registry } from '../../services/registry/registry.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { topicNames } from '../../services/wire/topics.ts';
import { REPO_ROOT, spawnChild, type Child } from '../kit/child-process.ts';
import { startPublisherProcess, type PublisherProcessOptions } from '../kit/publisher-process.ts';

export interface TableCommitterParams {
  /** The Iceberg REST catalog's base URI. */
  readonly catalogUri: string;
  readonly namespace: string;
  /** Names the committer in its snapshots' summaries. */
  readonly committerId: string;
}

export interface TablePipelineParams {
  readonly stack: LocalStack;
  /** The registry of `schemasDir`: a type that opts in makes provisioning create the tables subscription. */
  readonly registry: Registry;
  /** A schemas folder where track_played opts in ("table": true); the committer loads it. */
  readonly schemasDir: string;
  /** Window length of publishers, worker and checker (s). */
  readonly windowS: number;
  /** Start the table committer too; without it the tables subscription is made but read by nobody. */
  readonly committer?: TableCommitterParams;
}

export interface TablePipeline {
  /** The bucket folder (a local directory). */
  readonly storage: LocalDirectoryStorage;
  readonly worker: Child;
  readonly checker: Child;
  readonly committer: Child | undefined;
  /** Starts `count` publisher processes on this pipeline's topics; resolves when every one publishes. */
  startPublishers(count: number, options: Omit<PublisherProcessOptions, 'windowS' | 'topicPrefix'>): Promise<Child[]>;
  /** Stops every process still running (publishers first), removes the topics (and the emulator's backlog) and the folder. */
  close(): Promise<void>;
}

export async function openTablePipeline(o: TablePipelineParams): Promise<TablePipeline> {
  const prefix = `hgbench${randomBytes(3).toString('hex')}-`;
  const names = topicNames(prefix);
  await provisionTopics(o.stack.client, o.registry, names);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hg-bench-table-'));
  const env = {
    PUBSUB_EMULATOR_HOST: o.stack.pubsub.host,
    HOURGLASS_PROJECT: o.stack.pubsub.projectId,
    HOURGLASS_BUCKET: `file://${dir}`,
    HOURGLASS_WINDOW_S: String(o.windowS),
    HOURGLASS_TOPIC_PREFIX: prefix,
  };
  const procs: Child[] = [];
  const close = async () => {
    for (const p of procs.reverse()) await p.stop();
    await removeTopics(o.stack.client, o.registry, names);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const storage = await LocalDirectoryStorage.open(dir);
    let committer: Child | undefined;
    if (o.committer) {
      // First, so that its subscription is being read before the first window closes.
      committer = spawnChild([path.join(REPO_ROOT, 'services/table/main.ts')], {
        ...env,
        HOURGLASS_SCHEMAS_DIR: o.schemasDir,
        HOURGLASS_TABLE_CATALOG_URI: o.committer.catalogUri,
        HOURGLASS_TABLE_NAMESPACE: o.committer.namespace,
        HOURGLASS_TABLE_SUBSCRIPTION: names.tablesSubscription,
        HOURGLASS_TABLE_COMMITTER_ID: o.committer.committerId,
      });
      procs.push(committer);
      await committer.line((l) => l.event === 'table_committer_started');
    }
    const worker = spawnChild([path.join(REPO_ROOT, 'services/worker/main.ts')], env);
    procs.push(worker);
    await worker.line((l) => l.event === 'worker_started');
    // The checker announces each closed window on <prefix>closed-windows (HOURGLASS_ANNOUNCE_CLOSED, on by default).
    const checker = spawnChild([path.join(REPO_ROOT, 'services/checker/main.ts')], { ...env, HOURGLASS_ANNOUNCE_CLOSED: 'true' });
    procs.push(checker);
    await checker.line((l) => l.event === 'checker_started');
    return {
      storage,
      worker,
      checker,
      committer,
      startPublishers: async (count, options) => {
        const publishers = await Promise.all(Array.from({ length: count }, () => startPublisherProcess({ ...options, windowS: o.windowS, topicPrefix: prefix }, env)));
        procs.push(...publishers);
        return publishers;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

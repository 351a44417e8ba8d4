// The scale benchmark's pipeline as processes on the shared emulator: topics for a synthetic registry (provisioned in parallel), worker process(es), checker replicas with their ops servers, publisher fleets.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LocalStack } from '../../services/local-stack/local-stack.ts';
import { provisionTopics, removeTopics } from '../../services/local-stack/provision.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { topicNames } from '../../services/wire/topics.ts';
import { REPO_ROOT, spawnChild, type Child } from '../kit/child-process.ts';
import { startFleet, type FleetOptions, type FleetProcess } from './publisher-fleet.ts';
import type { SyntheticRegistry } from './synthetic-registry.ts';

export interface ScalePipelineParams {
  readonly stack: LocalStack;
  readonly registry: SyntheticRegistry;
  readonly windowS: number;
  readonly workers: number;
  readonly replicas: number;
  /** Staged notices as Terraform deploys them: a slot per replica, HOURGLASS_CHECKER_NOTICE_SLOTS to match. Default: off (the local default). */
  readonly notices?: boolean;
}

export interface CheckerReplica {
  readonly id: string;
  readonly child: Child;
  /** Its ops server (GET /metrics). */
  readonly opsUrl: string;
}

export interface ScalePipeline {
  readonly storage: LocalDirectoryStorage;
  readonly workers: readonly Child[];
  readonly checkers: readonly CheckerReplica[];
  /** Seconds the topics and subscriptions took to provision. */
  readonly provisionS: number;
  /** Starts `processes` fleets sharing `identities` publishers; resolves when every identity is registered. */
  startFleets(processes: number, identities: number, o: Omit<FleetOptions, 'schemasDir' | 'topicPrefix' | 'windowS' | 'firstIdentity' | 'identities'>): Promise<FleetProcess[]>;
  /** Stops every process (publishers first), removes the topics and the folder; returns how long the removal took (s). */
  close(): Promise<number>;
}

export async function openScalePipeline(o: ScalePipelineParams): Promise<ScalePipeline> {
  const prefix = `hgscale${randomBytes(3).toString('hex')}-`;
  const names = topicNames(prefix);
  const provisionStarted = Date.now();
  // One provisioning per chunk of types, at once: the emulator answers each admin call in turn, so in series 500 types take long.
  // With notices, as Terraform deploys them: a slot per checker replica, each read by the replica of its rank.
  const slots = { noticeSlots: o.notices ? o.replicas : 0 };
  await Promise.all(o.registry.chunks.map((chunk) => provisionTopics(o.stack.client, chunk, names, slots)));
  const provisionS = (Date.now() - provisionStarted) / 1000;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hg-scale-bucket-'));
  const env = {
    PUBSUB_EMULATOR_HOST: o.stack.pubsub.host,
    HOURGLASS_PROJECT: o.stack.pubsub.projectId,
    HOURGLASS_BUCKET: `file://${dir}`,
    HOURGLASS_WINDOW_S: String(o.windowS),
    HOURGLASS_TOPIC_PREFIX: prefix,
    HOURGLASS_SCHEMAS_DIR: o.registry.dir,
  };
  const procs: Child[] = [];
  const close = async () => {
    for (const p of procs.reverse()) await p.stop();
    const removeStarted = Date.now();
    await Promise.all(o.registry.chunks.map((chunk) => removeTopics(o.stack.client, chunk, names, slots)));
    await rm(dir, { recursive: true, force: true });
    return (Date.now() - removeStarted) / 1000;
  };
  try {
    const storage = await LocalDirectoryStorage.open(dir);
    const types = o.registry.types;
    const workers = Array.from({ length: o.workers }, (_, w) => {
      const share = types.filter((_, i) => i % o.workers === w);
      const child = spawnChild([path.join(REPO_ROOT, 'services/worker/main.ts')], { ...env, HOURGLASS_WORKER_ID: `scale-worker-${w}`, ...(o.workers > 1 ? { HOURGLASS_TYPES: share.join(',') } : {}) });
      procs.push(child);
      return child;
    });
    await Promise.all(workers.map((w) => w.line((l) => l.event === 'worker_started')));
    const checkers = await Promise.all(
      Array.from({ length: o.replicas }, async (_, r) => {
        const id = `scale-checker-${r}`;
        const child = spawnChild([path.join(REPO_ROOT, 'services/checker/main.ts')], { ...env, HOURGLASS_CHECKER_ID: id, HOURGLASS_CHECKER_NOTICE_SLOTS: String(slots.noticeSlots), HOURGLASS_OPS_PORT: '0', HOURGLASS_OPS_HOST: '127.0.0.1' });
        procs.push(child);
        const started = await child.line((l) => l.event === 'checker_started');
        if (typeof started.ops !== 'string') throw new Error(`checker ${id} started without an ops server: ${JSON.stringify(started)}`);
        return { id, child, opsUrl: started.ops };
      }),
    );
    return {
      storage,
      workers,
      checkers,
      provisionS,
      startFleets: async (processes, identities, fo) => {
        const per = Math.ceil(identities / processes);
        const started = Array.from({ length: processes }, (_, p) => {
          const count = Math.max(0, Math.min(per, identities - p * per));
          return startFleet({ ...fo, schemasDir: o.registry.dir, topicPrefix: prefix, windowS: o.windowS, firstIdentity: p * per, identities: count }, env).then((f) => (procs.push(f.child), f));
        });
        return Promise.all(started);
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

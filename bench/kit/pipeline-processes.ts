// A private pipeline for a benchmark, as processes on the shared emulator: its own topics and bucket folder, a worker, optionally a checker and other services, and SDK publisher processes.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LocalStack } from '../../services/local-stack/local-stack.ts';
import { provisionTopics, removeTopics } from '../../services/local-stack/provision.ts';
import type { Registry } from '../../services/registry/registry.ts';
import { LocalDirectoryStorage } from '../../services/storage/local-directory.ts';
import { topicNames, type TopicNames } from '../../services/wire/topics.ts';
import { REPO_ROOT, spawnChild, type Child } from './child-process.ts';
import { startPublisherProcess, type PublisherProcessOptions } from './publisher-process.ts';

export interface PipelineParams {
  readonly stack: LocalStack;
  readonly registry: Registry;
  /** Window length of publishers, worker and checker (s). */
  readonly windowS: number;
  readonly withChecker: boolean;
  /** Event types the worker pulls. Default: all. */
  readonly workerTypes?: readonly string[];
  /** Extra environment of the worker process (e.g. NODE_OPTIONS to profile it). */
  readonly workerEnv?: Record<string, string>;
  /**
   * More service processes on the pipeline's environment, given its topic names, started before the worker (so a
   * consumer of the checker's announcements reads its subscription before the first close): e.g. the table committer.
   */
  readonly services?: (names: TopicNames) => readonly ServiceSpec[];
}

export interface ServiceSpec {
  /** Entry point, relative to the repository. */
  readonly entry: string;
  /** Environment beside the pipeline's. */
  readonly env: Record<string, string>;
  /** The log line's `event` that says it started. */
  readonly readyEvent: string;
}

export interface PipelineProcesses {
  /** The bucket folder (a local directory). */
  readonly storage: LocalDirectoryStorage;
  readonly worker: Child;
  readonly checker: Child | undefined;
  /** The `services` processes, in their order. */
  readonly services: readonly Child[];
  /** Starts `count` publisher processes on this pipeline's topics; resolves when every one publishes. */
  startPublishers(count: number, options: Omit<PublisherProcessOptions, 'windowS' | 'topicPrefix'>): Promise<Child[]>;
  /** Stops every process (publishers first), removes the topics (and the emulator's backlog) and the folder. */
  close(): Promise<void>;
}

export async function openPipeline(o: PipelineParams): Promise<PipelineProcesses> {
  const prefix = `hgbench${randomBytes(3).toString('hex')}-`;
  const names = topicNames(prefix);
  await provisionTopics(o.stack.client, o.registry, names);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hg-bench-pipeline-'));
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
    const services: Child[] = [];
    for (const spec of o.services?.(names) ?? []) {
      const service = spawnChild([path.join(REPO_ROOT, spec.entry)], { ...env, ...spec.env });
      procs.push(service);
      services.push(service);
      await service.line((l) => l.event === spec.readyEvent);
    }
    const worker = spawnChild([path.join(REPO_ROOT, 'services/worker/main.ts')], { ...env, ...(o.workerTypes ? { HOURGLASS_TYPES: o.workerTypes.join(',') } : {}), ...o.workerEnv });
    procs.push(worker);
    await worker.line((l) => l.event === 'worker_started');
    let checker: Child | undefined;
    if (o.withChecker) {
      checker = spawnChild([path.join(REPO_ROOT, 'services/checker/main.ts')], env);
      procs.push(checker);
      await checker.line((l) => l.event === 'checker_started');
    }
    return {
      storage,
      worker,
      checker,
      services,
      startPublishers: async (count, options) => {
        const started = Array.from({ length: count }, () => startPublisherProcess({ ...options, windowS: o.windowS, topicPrefix: prefix }, env));
        // Registered before the caller counts anything: a publisher that failed to start fails here.
        const publishers = await Promise.all(started);
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

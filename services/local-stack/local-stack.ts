// The local stack: Pub/Sub emulator (always) and fake-gcs-server (when asked), provisioned for the registry.
import { PubSub } from '@google-cloud/pubsub';
import type { Registry } from '../registry/registry.ts';
import { topicNames, type TopicNames } from '../wire/topics.ts';
import { startFakeGcsServer, type FakeGcsServer } from './fake-gcs-server.ts';
import { provisionTopics } from './provision.ts';
import { startPubsubEmulator, type PubsubEmulator } from './pubsub-emulator.ts';

export interface LocalStackOptions {
  readonly registry: Registry;
  /** Also start fake-gcs-server and create this bucket in it. */
  readonly gcsBucket?: string;
  readonly topicPrefix?: string;
  /** Ack deadline of the worker subscriptions (s). */
  readonly ackDeadlineS?: number;
  readonly logDir?: string;
}

export interface LocalStack {
  readonly pubsub: PubsubEmulator;
  readonly gcs?: FakeGcsServer;
  readonly names: TopicNames;
  /** A client bound to the emulator (closed by stop()). */
  readonly client: PubSub;
  /** Stops everything this stack started; idempotent. */
  stop(): Promise<void>;
}

/** A Pub/Sub client pointed at an emulator. */
export function emulatorClient(host: string, projectId: string): PubSub {
  return new PubSub({ projectId, apiEndpoint: host, emulatorMode: true });
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const started: Array<{ stop(): Promise<void> }> = [];
  let client: PubSub | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await client?.close().catch(() => undefined);
      for (const part of started.reverse()) await part.stop();
    })();
    return stopping;
  };
  try {
    const logFile = (name: string) => (options.logDir ? `${options.logDir}/${name}.log` : undefined);
    const [pubsub, gcs] = await Promise.all([
      startPubsubEmulator({ logFile: logFile('pubsub-emulator') }).then((p) => (started.push(p), p)),
      options.gcsBucket ? startFakeGcsServer({ logFile: logFile('fake-gcs-server') }).then((g) => (started.push(g), g)) : undefined,
    ]);
    if (gcs && options.gcsBucket) await gcs.createBucket(options.gcsBucket);
    const names = topicNames(options.topicPrefix);
    client = emulatorClient(pubsub.host, pubsub.projectId);
    await provisionTopics(client, options.registry, names, { ackDeadlineS: options.ackDeadlineS });
    return { pubsub, gcs, names, client, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

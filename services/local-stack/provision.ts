// Creates (and removes) the topics and subscriptions the registry implies, plus the control, closed-windows and staged topics (idempotent).
import { PubSub } from '@google-cloud/pubsub';
import type { Registry } from '../registry/registry.ts';
import { DEFAULT_NOTICE_SLOTS, type TopicNames } from '../wire/topics.ts';

export interface ProvisionOptions {
  /** Ack deadline of the worker subscriptions (s). Default: 60. */
  readonly ackDeadlineS?: number;
  /** Subscriptions to the staged notices, one per checker replica that may run (Terraform: the checker's max instances). Default: DEFAULT_NOTICE_SLOTS. */
  readonly noticeSlots?: number;
}

export async function provisionTopics(pubsub: PubSub, registry: Registry, names: TopicNames, options: ProvisionOptions = {}): Promise<void> {
  const ackDeadlineSeconds = options.ackDeadlineS ?? 60;
  const ensureTopic = async (name: string) => {
    const topic = pubsub.topic(name);
    const [exists] = await topic.exists();
    if (!exists) await topic.create().catch(ignoreAlreadyExists);
    return topic;
  };
  const ensureSubscription = async (topicName: string, subName: string, deadlineS = ackDeadlineSeconds, ordered = false) => {
    const sub = pubsub.subscription(subName);
    const [exists] = await sub.exists();
    if (!exists) await pubsub.topic(topicName).createSubscription(subName, { ackDeadlineSeconds: deadlineS, enableMessageOrdering: ordered }).catch(ignoreAlreadyExists);
  };
  for (const type of registry.names()) {
    await ensureTopic(names.eventTopic(type));
    await ensureSubscription(names.eventTopic(type), names.workerSubscription(type));
  }
  await ensureTopic(names.controlTopic);
  await ensureSubscription(names.controlTopic, names.controlSubscription);
  await ensureTopic(names.closedWindowsTopic);
  // The table committer's, when a type opts in to a table: ordered (one type's windows in order), long leases.
  if (registry.names().some((t) => registry.get(t)?.config.table)) await ensureSubscription(names.closedWindowsTopic, names.tablesSubscription, 600, true);
  await ensureTopic(names.stagedTopic);
  for (let slot = 0; slot < (options.noticeSlots ?? DEFAULT_NOTICE_SLOTS); slot++) await ensureSubscription(names.stagedTopic, names.stagedSubscription(slot), 10);
}

function ignoreAlreadyExists(err: unknown): void {
  if ((err as { code?: number }).code !== 6) throw err;
}

/** Deletes what provisionTopics created (subscriptions first), so an emulator shared by several runs frees their backlog. */
export async function removeTopics(pubsub: PubSub, registry: Registry, names: TopicNames, options: Pick<ProvisionOptions, 'noticeSlots'> = {}): Promise<void> {
  const ignoreNotFound = (err: unknown) => {
    if ((err as { code?: number }).code !== 5) throw err;
  };
  for (const type of registry.names()) await pubsub.subscription(names.workerSubscription(type)).delete().catch(ignoreNotFound);
  await pubsub.subscription(names.controlSubscription).delete().catch(ignoreNotFound);
  await pubsub.subscription(names.tablesSubscription).delete().catch(ignoreNotFound);
  for (let slot = 0; slot < (options.noticeSlots ?? DEFAULT_NOTICE_SLOTS); slot++) await pubsub.subscription(names.stagedSubscription(slot)).delete().catch(ignoreNotFound);
  for (const type of registry.names()) await pubsub.topic(names.eventTopic(type)).delete().catch(ignoreNotFound);
  await pubsub.topic(names.controlTopic).delete().catch(ignoreNotFound);
  await pubsub.topic(names.closedWindowsTopic).delete().catch(ignoreNotFound);
  await pubsub.topic(names.stagedTopic).delete().catch(ignoreNotFound);
}

// Pub/Sub names every part agrees on: one topic and one worker subscription per type, one control topic, one topic of closed windows, one of staged notices.

export const DEFAULT_TOPIC_PREFIX = 'hourglass-';

/** Notice slots (stagedSubscription) made locally, and the checker's default: replicas beyond this many list every round. */
export const DEFAULT_NOTICE_SLOTS = 4;

export interface TopicNames {
  /** Topic carrying batches of `type`. */
  eventTopic(type: string): string;
  /** The worker's subscription to a type's topic. */
  workerSubscription(type: string): string;
  /** Topic Pub/Sub forwards undeliverable messages of `type` to (its dead-letter policy). */
  deadLetterTopic(type: string): string;
  /** The one heartbeat topic. */
  readonly controlTopic: string;
  /** The checker's subscription to the heartbeat topic. */
  readonly controlSubscription: string;
  /** Topic of staged notices (staged-notice.ts): workers publish, each checker replica reads it through a notice slot. */
  readonly stagedTopic: string;
  /** Notice slot `slot` (0, 1, …): a subscription to the staged topic, read by the checker replica of that rank. */
  stagedSubscription(slot: number): string;
  /** Topic announcing every closed window (window-closed-event.ts); a hyphen keeps it apart from any type's topic. */
  readonly closedWindowsTopic: string;
  /** The table committer's subscription to the closed-windows topic (services/table). */
  readonly tablesSubscription: string;
}

export function topicNames(prefix: string = DEFAULT_TOPIC_PREFIX): TopicNames {
  return {
    eventTopic: (type) => `${prefix}${type}`,
    workerSubscription: (type) => `${prefix}${type}-worker`,
    deadLetterTopic: (type) => `${prefix}${type}-dead`,
    controlTopic: `${prefix}control`,
    controlSubscription: `${prefix}control-checker`,
    closedWindowsTopic: `${prefix}closed-windows`,
    tablesSubscription: `${prefix}closed-windows-tables`,
    stagedTopic: `${prefix}staged`,
    stagedSubscription: (slot) => `${prefix}staged-checker-${slot}`,
  };
}

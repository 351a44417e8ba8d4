// Pub/Sub names every part agrees on: one topic and one worker subscription per type, one control topic, one topic of closed windows.

export const DEFAULT_TOPIC_PREFIX = 'hourglass-';

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
  /** Topic announcing every closed window (window-closed-event.ts); a hyphen keeps it apart from any type's topic. */
  readonly closedWindowsTopic: string;
}

export function topicNames(prefix: string = DEFAULT_TOPIC_PREFIX): TopicNames {
  return {
    eventTopic: (type) => `${prefix}${type}`,
    workerSubscription: (type) => `${prefix}${type}-worker`,
    deadLetterTopic: (type) => `${prefix}${type}-dead`,
    controlTopic: `${prefix}control`,
    controlSubscription: `${prefix}control-checker`,
    closedWindowsTopic: `${prefix}closed-windows`,
  };
}

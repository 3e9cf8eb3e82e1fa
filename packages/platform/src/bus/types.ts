import type { Metrics } from '../metrics';

/**
 * The event bus seen by services: topics of keyed messages, delivered at least once,
 * in order per key (one key always lands on one partition), to every consumer group.
 * Two adapters implement it: the durable in-process log (embedded mode) and Apache Kafka.
 */
export interface OutgoingMessage {
  topic: string;
  /** Aggregate id; every message with the same key keeps its order. */
  key: string;
  /** Serialized event envelope (JSON). */
  value: string;
  headers?: Record<string, string>;
  /**
   * The consumer groups that handle this message, for their `routed` subscriptions. Kafka also
   * writes it to each of them on a topic of its own (`deliveryTopic`); the in-process bus records
   * the names with the message. The message's own topic still gets it, for every other reader.
   * Left out: on Kafka no routed subscription receives it; on the in-process bus every one does.
   */
  deliverTo?: readonly string[];
}

export interface IncomingMessage extends OutgoingMessage {
  headers: Record<string, string>;
  partition: number;
  offset: string;
  /** 1 on first delivery to this handler, then 2, 3, … while retries last. */
  attempt: number;
}

export type MessageHandler = (message: IncomingMessage) => Promise<void>;

/**
 * Handles consecutive messages of one partition together, in order, all or nothing: it either
 * resolves (every message done) or throws having changed nothing. Each message has attempt 1.
 */
export type BatchHandler = (messages: readonly IncomingMessage[]) => Promise<void>;

export interface SubscribeOptions {
  /** Consumer group: each group receives every message once (at least once). */
  group: string;
  topics: readonly string[];
  handler: MessageHandler;
  /**
   * Optional: when given, the adapter passes runs of two or more messages of one partition here
   * first. If it throws, those messages go through `handler` one at a time with the usual retries
   * and parking (so one poison message is isolated; the failed batch try is not an attempt).
   */
  batchHandler?: BatchHandler;
  /** Attempts before a message is parked on the dead-letter topic. Default 5. */
  maxAttempts?: number;
  /** Delay before the first retry; doubles each time. Default 100 ms. */
  retryBackoffMs?: number;
  /**
   * The group handles exactly the messages published with it in `deliverTo`: a bus that routes
   * delivers only those, from the group's delivery topics of `topics`, instead of all of `topics`.
   */
  routed?: boolean;
  /** Where `events_dead_lettered_total` is counted for this group; else the bus's own metrics, if any. */
  metrics?: Pick<Metrics, 'eventsDeadLettered'>;
  /**
   * The topics are rarely written (dead-letter topics): a bus whose idle group member costs
   * something (Kafka: a fetch every 500 ms and a heartbeat every second) may keep none until the
   * topics hold messages the group has not read, then join and stay. What is unread when it
   * subscribes, or published later, is still delivered, within the bus's check interval (Kafka: 5 s;
   * at once for what this bus parks itself). The in-process bus delivers as it always does.
   */
  wakeOnUnread?: boolean;
}

export interface Subscription {
  group: string;
  /** Stops fetching and waits for the handler in flight to finish. */
  stop(): Promise<void>;
}

export interface EventBus {
  readonly kind: 'in-process' | 'kafka';
  /** Resolves once every message is durably accepted by the bus. */
  publish(messages: readonly OutgoingMessage[]): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  /** True while the bus can accept and deliver messages (used by /health/ready). */
  isReady(): Promise<boolean>;
  /**
   * How old a message of these topics that is still on the bus can be, in ms; null when the bus
   * keeps them without limit. An event can be delivered again (a redelivery, a replay from the
   * beginning) only while it is on the bus, so a consumer's inbox must remember it at least this long.
   * Given the consumer's `group`, the copies the bus keeps for that group count too (on Kafka, its
   * delivery topics, whose retention an operator may set apart from their source topic's).
   */
  retention(topics: readonly string[], group?: string): Promise<number | null>;
  /** Stops every subscription (draining in-flight handlers), then disconnects. */
  close(): Promise<void>;
}

/** Messages that fail `maxAttempts` times go here, with the failure in headers. */
export const deadLetterTopic = (topic: string): string => `${topic}.dlq`;

const DELIVERY_MARK = '.for-';

/** Where a routing bus delivers `topic`'s messages that `group` handles. */
export const deliveryTopic = (topic: string, group: string): string => `${topic}${DELIVERY_MARK}${group}`;

/** The topic a delivery topic copies (a topic that is not one is returned as it is). */
export const sourceTopicOf = (topic: string): string => {
  const at = topic.lastIndexOf(DELIVERY_MARK);
  return at < 0 ? topic : topic.slice(0, at);
};

export const DEAD_LETTER_HEADERS = {
  originalTopic: 'x-original-topic',
  originalPartition: 'x-original-partition',
  originalOffset: 'x-original-offset',
  group: 'x-consumer-group',
  error: 'x-error',
  attempts: 'x-attempts',
} as const;

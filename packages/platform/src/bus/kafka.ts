/**
 * EventBus adapter for Apache Kafka, on kafkajs 2.2.4 (see docs/adr/0003-kafka-client-and-broker.md).
 *
 * - publish(): idempotent producer, acks=all, one sendBatch per call (grouped by topic).
 * - subscribe(): one kafkajs consumer (one group member) per call; eachBatch keeps per-partition order,
 *   with up to 8 partitions handled concurrently. A fetched batch goes to the subscription's
 *   batchHandler (if any) in runs of up to MAX_BATCH_MESSAGES; a run that fails is handled again one
 *   message at a time. A failing handler is retried in place with exponential backoff; after
 *   maxAttempts the message is parked on `<topic>.dlq` (with DEAD_LETTER_HEADERS) and the partition
 *   moves on. Offsets are resolved only for messages handled or dead-lettered, and committed every
 *   COMMIT_INTERVAL_MS and when the subscription stops (a crash redelivers at most that long's work).
 * - Routing (docs/adr/0013-deliver-events-only-to-their-handlers.md): a message published with
 *   `deliverTo` groups is also written, in the same request, to `<topic>.for-<group>` for each, with
 *   its key (so its partition and per-key order). A `routed` subscription reads its group's delivery
 *   topics instead of the whole topics, so a group fetches only what it handles; it first finishes
 *   what it had left unread on the whole topics, if it read them before (an upgrade).
 *   Parked messages of a delivery topic go to the dead-letter topic of the topic it copies.
 * - A `wakeOnUnread` subscription (the dead-letter recorders) keeps no group member while its topics
 *   hold nothing its group has not read: it checks the offsets every `unreadCheckIntervalMs`, and at
 *   once when a subscription of this bus parks a message on one of its topics, and only then joins
 *   the group (and stays). An idle member costs fetches and heartbeats, on the client and the broker.
 * - Topics (and their dead-letter topics) are created on first use with the configured partition count.
 * - `namespace` prefixes every topic and group on the broker (`<namespace>.order-events`), so
 *   several installations (or test runs) can share one cluster without seeing each other's events;
 *   services keep using the plain names.
 */
import kafkajs from 'kafkajs';
import './kafkajs-idle-fix';
import type {
  Admin,
  Consumer,
  EachBatchPayload,
  IHeaders,
  KafkaMessage,
  LogEntry,
  Producer,
} from 'kafkajs';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics';
import { isTransientDatabaseError } from '../db/postgres';
import {
  DEAD_LETTER_HEADERS,
  deadLetterTopic,
  deliveryTopic,
  sourceTopicOf,
  type EventBus,
  type IncomingMessage,
  type OutgoingMessage,
  type SubscribeOptions,
  type Subscription,
} from './types';

// kafkajs is CommonJS and spreads its error classes into module.exports, which Node's ESM loader
// cannot see as named exports: take everything from the default export.
const { Kafka, Partitioners, logLevel, KafkaJSError, ConfigResourceTypes } = kafkajs;

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  logger: Logger;
  /** Partitions of topics this bus creates (and of their dead-letter topics). Default 3. */
  partitions?: number;
  /** Counts `events_dead_lettered_total` (unless a subscription brings its own metrics). */
  metrics?: Pick<Metrics, 'eventsDeadLettered'>;
  /** Prefix of every topic and consumer group on the broker; empty (default) = none. */
  namespace?: string;
  /**
   * What `routed` subscriptions read: `routed` (default) their group's delivery topics; `aggregate`
   * the whole topics, as before routing (the first step of an upgrade from a version without it:
   * the relays write the delivery topics while every consumer still reads the whole topics). Messages
   * with `deliverTo` are written to the delivery topics either way.
   */
  delivery?: 'routed' | 'aggregate';
  /** How often a `wakeOnUnread` subscription without a member checks for unread messages. Default 5 s. */
  unreadCheckIntervalMs?: number;
}

/** How a namespace maps the names services use to the names on the broker, and back. */
export function kafkaNames(namespace = '') {
  const prefix = namespace ? `${namespace}.` : '';
  return {
    topic: (topic: string): string => `${prefix}${topic}`,
    group: (group: string): string => `${prefix}${group}`,
    /** The service-side name of a broker topic (names outside the namespace are returned as they are). */
    logicalTopic: (topic: string): string => (prefix && topic.startsWith(prefix) ? topic.slice(prefix.length) : topic),
  };
}

const DEFAULT_MAX_ATTEMPTS = 5;
const DEFAULT_RETRY_BACKOFF_MS = 100;
const MAX_RETRY_BACKOFF_MS = 5_000;
const TOPIC_READY_TIMEOUT_MS = 30_000;
const READY_TIMEOUT_MS = 2_000;
/** Broker floor is group.min.session.timeout.ms = 6 s; 10 s notices a dead member quickly. */
const SESSION_TIMEOUT_MS = 10_000;
const HEARTBEAT_INTERVAL_MS = 1_000;
/** How long members get to rejoin during a rebalance before they are dropped. */
const REBALANCE_TIMEOUT_MS = 10_000;

/** How often a dormant (`wakeOnUnread`) subscription looks for messages its group has not read. */
const UNREAD_CHECK_INTERVAL_MS = 5_000;

/** How often a routed subscription checks whether it has caught up on the whole topics (upgrade only). */
const CATCH_UP_POLL_MS = 250;

/** Up to this many partitions of one subscription are in flight at once (kafkajs workers). */
const PARTITIONS_CONSUMED_CONCURRENTLY = 8;
/** Messages given to a batchHandler at once (one consumer transaction): bounds a failed run's redo. */
const MAX_BATCH_MESSAGES = 50;
/**
 * How long an idle fetch waits on the broker. The broker answers as soon as one message arrives
 * (minBytes 1, kafkajs' default), so this adds no latency; shorter only means more idle fetches.
 */
const FETCH_MAX_WAIT_MS = 500;

/**
 * How often a subscription commits the offsets of the messages it has handled. kafkajs' eachBatch
 * commits after every batch, and at a few events per second per partition a batch is one message:
 * commits were half of the broker's requests in the bench (2,296 of 4,663 in 20 s at 15 checkouts/s).
 * A crash (or a partition moving to another member) redelivers at most this long's work, which the
 * consumers' inboxes absorb; a subscription that stops commits everything it handled first.
 */
const COMMIT_INTERVAL_MS = 1_000;

/** Thrown from eachMessage to leave a message uncommitted (redelivered to the group later). */
class SubscriptionStopping extends KafkaJSError {
  constructor() {
    super('subscription stopping: message left uncommitted for redelivery', { retriable: true });
  }
}

export function createKafkaBus(options: KafkaBusOptions): EventBus {
  const logger = options.logger.child({ component: 'kafka-bus' });
  const partitions = options.partitions ?? 3;
  const names = kafkaNames(options.namespace);
  const delivery = options.delivery ?? 'routed';

  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    logLevel: logLevel.WARN,
    logCreator: kafkajsLogCreator(options.logger.child({ component: 'kafkajs' })),
    retry: { initialRetryTime: 200, maxRetryTime: 5_000, retries: 8 },
  });

  const newProducer = (): Producer =>
    kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Java-client-compatible murmur2 partitioning (also silences kafkajs' v2 partitioner warning).
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  let producer: Producer = newProducer();
  const admin: Admin = kafka.admin();

  let closed = false;
  let producerConnected: Promise<void> | undefined;
  let adminConnected: Promise<void> | undefined;
  const topicsReady = new Map<string, Promise<void>>();
  const subscriptions = new Set<KafkaSubscription>();
  /** `wakeOnUnread` subscriptions, with or without their member yet. */
  const dormant = new Set<DormantSubscription>();

  const connectProducer = (): Promise<void> => {
    producerConnected ??= producer.connect().catch((error: unknown) => {
      producerConnected = undefined;
      throw error;
    });
    return producerConnected;
  };

  /**
   * After a failed send, kafkajs' idempotent producer may keep sequence numbers the broker never
   * stored (a request cut after it was sent): every later send is then refused with
   * OUT_OF_ORDER_SEQUENCE_NUMBER, for good (kafkajs #598; seen in the fault suite). The next send
   * goes through a new producer, with a new producer id and sequences from zero. The outbox sends
   * what it could not mark again, so nothing is lost; a message the broker did store is sent twice,
   * which consumers absorb.
   */
  const replaceProducer = (failed: Producer): void => {
    if (producer !== failed || closed) return;
    producer = newProducer();
    producerConnected = undefined;
    void failed.disconnect().catch(() => undefined);
  };

  const connectAdmin = (): Promise<void> => {
    adminConnected ??= admin.connect().catch((error: unknown) => {
      adminConnected = undefined;
      throw error;
    });
    return adminConnected;
  };

  /** Creates each topic and its dead-letter topic once per bus (no-op if they already exist). */
  const ensureTopics = async (topics: Iterable<string>): Promise<void> => {
    const missing: string[] = [];
    const waits: Promise<void>[] = [];
    for (const topic of topics) {
      // A delivery topic parks on its source topic's dead-letter topic; a dead-letter topic has none.
      const withDeadLetters = topic.endsWith('.dlq') ? [topic] : [topic, deadLetterTopic(sourceTopicOf(topic))];
      for (const name of withDeadLetters.map(names.topic)) {
        const pending = topicsReady.get(name);
        if (pending) waits.push(pending);
        else if (!missing.includes(name)) missing.push(name);
      }
    }
    if (missing.length > 0) {
      const creation = (async () => {
        // Several services start at once and race to create the same topics: a creation error
        // is fine as long as the topics then show up in the metadata with leaders.
        const deadline = Date.now() + TOPIC_READY_TIMEOUT_MS;
        for (let attempt = 1; ; attempt++) {
          try {
            await connectAdmin();
            await admin.createTopics({
              waitForLeaders: true,
              topics: missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
            });
          } catch (error) {
            logger.debug({ err: error, topics: missing }, 'topic creation raced or failed; checking metadata');
          }
          try {
            const { topics } = await admin.fetchTopicMetadata({ topics: missing });
            if (topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
          } catch (error) {
            if (Date.now() > deadline) throw error;
          }
          if (Date.now() > deadline) throw new Error(`Kafka topics not ready in time: ${missing.join(', ')}`);
          await new Promise((resolve) => setTimeout(resolve, Math.min(100 * attempt, 1000)));
        }
      })();
      const shared = creation.catch((error: unknown) => {
        for (const name of missing) topicsReady.delete(name);
        throw error;
      });
      for (const name of missing) topicsReady.set(name, shared);
      waits.push(shared);
    }
    await Promise.all(waits);
  };

  const publish = async (messages: readonly OutgoingMessage[]): Promise<void> => {
    if (closed) throw new Error('kafka bus is closed');
    await send(messages);
  };

  /** Also used for dead-lettering, which may still run while close() drains the consumers. */
  const send = async (messages: readonly OutgoingMessage[]): Promise<void> => {
    // Keyed by the service-side topic name; ensureTopics and the batch use the broker's.
    if (messages.length === 0) return;
    const byTopic = new Map<string, { key: string; value: string; headers?: Record<string, string> }[]>();
    const add = (topic: string, message: OutgoingMessage): void => {
      let list = byTopic.get(topic);
      if (!list) byTopic.set(topic, (list = []));
      list.push(
        message.headers
          ? { key: message.key, value: message.value, headers: message.headers }
          : { key: message.key, value: message.value },
      );
    };
    for (const message of messages) {
      add(message.topic, message);
      for (const group of message.deliverTo ?? []) add(deliveryTopic(message.topic, group), message);
    }
    // The producer this send connects is the one it sends with (a failed send may replace it meanwhile).
    const sending = producer;
    await Promise.all([connectProducer(), ensureTopics(byTopic.keys())]);
    try {
      await sending.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, list]) => ({ topic: names.topic(topic), messages: list })),
      });
    } catch (error) {
      logger.warn({ err: error }, 'send failed; the next send uses a new producer');
      replaceProducer(sending);
      throw error;
    }
  };

  const subscribe = async (requested: SubscribeOptions): Promise<Subscription> => {
    if (closed) throw new Error('kafka bus is closed');
    if (requested.topics.length === 0) throw new Error('subscribe() needs at least one topic');
    if (requested.wakeOnUnread) return wakeOnUnread(requested);
    if (!requested.routed || delivery === 'aggregate') return consume(requested);
    await catchUpOnWholeTopics(requested);
    return consume({ ...requested, topics: requested.topics.map((topic) => deliveryTopic(topic, requested.group)) });
  };

  /**
   * A group switching from the whole topics to its delivery topics (an upgrade) first handles what
   * it had not read of the whole topics when it started: up to their end offsets of now. Everything
   * published after that is on its delivery topics as well (every relay writes them since the
   * upgrade's first step), which it then reads from their beginning, the inbox absorbing what it
   * already handled; so each key's events are still handled in order, none missed. A group that
   * never read the whole topics (a new installation), or has read its delivery topics already (it
   * switched before a restart), skips this.
   */
  const catchUpOnWholeTopics = async (requested: SubscribeOptions): Promise<void> => {
    const whole = requested.topics.map(names.topic);
    const delivered = requested.topics.map((topic) => names.topic(deliveryTopic(topic, requested.group)));
    /** The group's committed offset per `topic|partition` (-1: none). */
    const committedOn = async (topics: string[]): Promise<Map<string, bigint>> => {
      const offsets = await admin.fetchOffsets({ groupId: names.group(requested.group), topics });
      return new Map(offsets.flatMap(({ topic, partitions: list }) => list.map((p): [string, bigint] => [`${topic}|${p.partition}`, BigInt(p.offset)])));
    };
    const anyCommitted = (offsets: Map<string, bigint>): boolean => [...offsets.values()].some((offset) => offset >= 0n);
    await ensureTopics([...requested.topics, ...requested.topics.map((topic) => deliveryTopic(topic, requested.group))]);
    await connectAdmin();
    // Read its delivery topics already: it switched before (a restart). Never read the whole topics: a new installation.
    if (anyCommitted(await committedOn(delivered))) return;
    if (!anyCommitted(await committedOn(whole))) return;
    const ends = new Map<string, bigint>();
    for (const topic of whole) for (const p of await admin.fetchTopicOffsets(topic)) ends.set(`${topic}|${p.partition}`, BigInt(p.high));
    const unread = async (): Promise<number> => {
      const read = await committedOn(whole);
      // A partition with no commit has read nothing (offset 0).
      const at = (key: string): bigint => {
        const offset = read.get(key) ?? -1n;
        return offset < 0n ? 0n : offset;
      };
      return [...ends].filter(([key, end]) => at(key) < end).length;
    };
    const left = await unread();
    if (left === 0) return;
    logger.info({ group: requested.group, partitions: left }, 'reading what is left on the whole topics before switching to the delivery topics');
    const reading = await consume({ ...requested, routed: false });
    try {
      while (!closed && (await unread()) > 0) await new Promise((resolve) => setTimeout(resolve, CATCH_UP_POLL_MS));
    } finally {
      await reading.stop();
    }
    logger.info({ group: requested.group }, 'caught up on the whole topics; reading the delivery topics');
  };

  /**
   * Whether `topics` hold messages `group` has not read: past its committed offset, or, where it has
   * none (a new group starts from the beginning), past the partition's first offset still kept.
   */
  const hasUnread = async (group: string, topics: readonly string[]): Promise<boolean> => {
    await connectAdmin();
    const brokerTopics = topics.map(names.topic);
    const committed = await admin.fetchOffsets({ groupId: names.group(group), topics: brokerTopics });
    const read = new Map(committed.flatMap(({ topic, partitions: list }) => list.map((p): [string, bigint] => [`${topic}|${p.partition}`, BigInt(p.offset)])));
    for (const topic of brokerTopics) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        const at = read.get(`${topic}|${p.partition}`) ?? -1n;
        const low = BigInt(p.low);
        if (BigInt(p.high) > (at > low ? at : low)) return true;
      }
    }
    return false;
  };

  /** A subscription that joins its group only once its topics hold something for it (see the top). */
  const wakeOnUnread = async (requested: SubscribeOptions): Promise<Subscription> => {
    await ensureTopics(requested.topics);
    const watcher = new DormantSubscription(
      requested,
      () => hasUnread(requested.group, requested.topics),
      () => consume(requested),
      options.unreadCheckIntervalMs ?? UNREAD_CHECK_INTERVAL_MS,
      logger,
      () => dormant.delete(watcher),
    );
    dormant.add(watcher);
    await watcher.start();
    return watcher;
  };

  /** Parks messages on dead-letter topics, then wakes the dormant subscriptions that read them. */
  const park = async (messages: readonly OutgoingMessage[]): Promise<void> => {
    await send(messages);
    const topics = new Set(messages.map((message) => message.topic));
    for (const watcher of dormant) if (watcher.reads(topics)) watcher.checkNow();
  };

  const consume = async (subscribeOptions: SubscribeOptions): Promise<Subscription> => {
    if (closed) throw new Error('kafka bus is closed');
    await ensureTopics(subscribeOptions.topics);
    const consumer = kafka.consumer({
      groupId: names.group(subscribeOptions.group),
      sessionTimeout: SESSION_TIMEOUT_MS,
      rebalanceTimeout: REBALANCE_TIMEOUT_MS,
      heartbeatInterval: HEARTBEAT_INTERVAL_MS,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
    });
    const subscription = new KafkaSubscription(
      consumer,
      subscribeOptions,
      logger,
      park,
      () => subscriptions.delete(subscription),
      names,
      subscribeOptions.metrics ?? options.metrics,
    );
    subscriptions.add(subscription);
    try {
      await subscription.start();
    } catch (error) {
      subscriptions.delete(subscription);
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
    return subscription;
  };

  const isReady = async (): Promise<boolean> => {
    if (closed) return false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS);
    });
    const probe = (async () => {
      await connectAdmin();
      const cluster = await admin.describeCluster();
      return cluster.brokers.length > 0;
    })().catch(() => false);
    try {
      return await Promise.race([probe, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  /**
   * From the topics' own settings: Kafka deletes a log segment once its newest message is older
   * than retention.ms, and a segment takes new messages for up to segment.ms, so a message can stay
   * for both. A topic that is compacted or kept without limit (retention.ms -1) makes it null.
   * With a group, its delivery topics that exist count as well, whichever way it reads now: a group
   * that still reads the whole topics reads its delivery topics after the switch.
   */
  const retention = async (topics: readonly string[], group?: string): Promise<number | null> => {
    if (topics.length === 0) return 0;
    await connectAdmin();
    const copies = group === undefined ? [] : topics.map((topic) => names.topic(deliveryTopic(topic, group)));
    const existing = copies.length > 0 ? new Set(await admin.listTopics()) : new Set<string>();
    const described = [...topics.map(names.topic), ...copies.filter((name) => existing.has(name))];
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: described.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['retention.ms', 'segment.ms', 'cleanup.policy'] })),
    });
    let longest = 0;
    for (const resource of resources) {
      const setting = (name: string) => resource.configEntries.find((entry) => entry.configName === name)?.configValue;
      const keep = Number(setting('retention.ms'));
      const segment = Number(setting('segment.ms'));
      if (!(setting('cleanup.policy') ?? 'delete').split(',').includes('delete') || !Number.isFinite(keep) || keep < 0) return null;
      longest = Math.max(longest, keep + (Number.isFinite(segment) && segment > 0 ? segment : 0));
    }
    return longest;
  };

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    // Consumers first: kafkajs disconnect() waits for the eachMessage in flight (which may still
    // need the producer to dead-letter a message), then commits and leaves the group.
    await Promise.allSettled([...dormant, ...subscriptions].map((subscription) => subscription.stop()));
    await Promise.allSettled([
      producerConnected ? producer.disconnect() : undefined,
      adminConnected ? admin.disconnect() : undefined,
    ]);
  };

  return { kind: 'kafka', publish, subscribe, isReady, retention, close };
}

/**
 * A `wakeOnUnread` subscription: no group member (no fetches, no heartbeats) until a check finds
 * messages its group has not read; then the member joins (`join`) and stays until stop(). A check
 * that fails (the broker away) is tried again at the next interval.
 */
class DormantSubscription implements Subscription {
  readonly group: string;
  private timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> | undefined;
  private again = false;
  private member: Promise<Subscription> | undefined;
  private stopping = false;
  private stopped: Promise<void> | undefined;

  constructor(
    private readonly options: SubscribeOptions,
    private readonly hasUnread: () => Promise<boolean>,
    private readonly join: () => Promise<Subscription>,
    private readonly intervalMs: number,
    private readonly logger: Logger,
    private readonly onStopped: () => void,
  ) {
    this.group = options.group;
  }

  /** Checks once (so what is already unread is read at once), then on the interval. */
  async start(): Promise<void> {
    this.timer = setInterval(() => this.checkNow(), this.intervalMs);
    this.timer.unref();
    this.checkNow();
    await this.checking;
  }

  reads(topics: ReadonlySet<string>): boolean {
    return this.options.topics.some((topic) => topics.has(topic));
  }

  /** Checks now (or right after the check in flight, which may have read the offsets too early). */
  checkNow(): void {
    if (this.stopping || this.member) return;
    if (this.checking) {
      this.again = true;
      return;
    }
    this.checking = (async () => {
      do {
        this.again = false;
        try {
          if (await this.hasUnread()) this.wake();
        } catch (error) {
          this.logger.info({ group: this.group, err: error }, 'could not check for unread messages; trying again at the next interval');
        }
      } while (this.again && !this.stopping && !this.member);
    })().finally(() => {
      this.checking = undefined;
      // A checkNow() after the loop's last test, while this check was ending, only asked for another.
      if (this.again) this.checkNow();
    });
  }

  private wake(): void {
    if (this.stopping || this.member) return;
    clearInterval(this.timer);
    this.logger.info({ group: this.group, topics: this.options.topics }, 'unread messages: the group member joins');
    const member = this.join();
    this.member = member;
    member.catch((error: unknown) => {
      this.member = undefined;
      if (this.stopping) return;
      // The join failed (the broker away): back to checking.
      this.logger.warn({ group: this.group, err: error }, 'could not join the group; checking again at the next interval');
      this.timer = setInterval(() => this.checkNow(), this.intervalMs);
      this.timer.unref();
    });
  }

  stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.stopped ??= (async () => {
      await this.checking;
      const member = await this.member?.catch(() => undefined);
      await member?.stop();
    })().finally(() => this.onStopped());
    return this.stopped;
  }
}

class KafkaSubscription implements Subscription {
  readonly group: string;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  /** Wakes a retry backoff sleep early when stop() is called. */
  private readonly wakers = new Set<() => void>();
  private readonly maxAttempts: number;
  private readonly retryBackoffMs: number;
  /** Per broker topic and partition (`topic|partition`): the next offset to read, handled but not yet committed. */
  private readonly handled = new Map<string, { topic: string; partition: number; offset: string }>();
  /** What was last committed per topic and partition: a redelivered message never moves a commit back. */
  private readonly committed = new Map<string, bigint>();
  /** The partitions this member holds since its last join (undefined before the first). */
  private assigned: Set<string> | undefined;
  private committing: Promise<void> = Promise.resolve();
  private commitTimer: NodeJS.Timeout | undefined;
  /** Batches being handled: stop() commits only once they have ended. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly consumer: Consumer,
    private readonly options: SubscribeOptions,
    private readonly logger: Logger,
    private readonly publish: (messages: readonly OutgoingMessage[]) => Promise<void>,
    private readonly onStopped: () => void,
    private readonly names: ReturnType<typeof kafkaNames>,
    private readonly metrics: Pick<Metrics, 'eventsDeadLettered'> | undefined,
  ) {
    this.group = options.group;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
    this.retryBackoffMs = Math.max(0, options.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS);
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => this.keepAssigned(payload.memberAssignment));
    // fromBeginning only applies while the group has no committed offset (a brand-new group).
    await this.consumer.subscribe({ topics: this.options.topics.map(this.names.topic), fromBeginning: true });
    // Resolves once the member has joined the group and received its partitions.
    await this.consumer.run({
      // Offsets are committed by this subscription, on an interval and when it stops (see
      // COMMIT_INTERVAL_MS), not by kafkajs after every batch.
      autoCommit: false,
      // Partitions are handled side by side (each one still strictly in order): one slow handler or
      // commit does not hold up every other partition of the group.
      partitionsConsumedConcurrently: PARTITIONS_CONSUMED_CONCURRENTLY,
      // We resolve each offset ourselves, only once its message is done (stop() may cut a batch short).
      eachBatchAutoResolve: false,
      eachBatch: (payload) => {
        const batch = this.handleBatch(payload);
        this.inFlight.add(batch);
        return batch.finally(() => this.inFlight.delete(batch));
      },
    });
    this.commitTimer = setInterval(() => void this.commit(), COMMIT_INTERVAL_MS);
    this.commitTimer.unref();
  }

  stop(): Promise<void> {
    this.stopping = true;
    for (const wake of this.wakers) wake();
    this.stopped ??= (async () => {
      clearInterval(this.commitTimer);
      // Batches in flight start no new work once stopping; what they finished is committed before
      // the member leaves the group, so the next subscription starts after it.
      await Promise.allSettled([...this.inFlight]);
      await this.commit();
      await this.consumer.disconnect();
    })()
      .catch((error: unknown) => {
        this.logger.warn({ err: error, group: this.group }, 'error while stopping kafka consumer');
      })
      .finally(() => this.onStopped());
    return this.stopped;
  }

  /** Records that every message of a partition up to `offset` is done (to be committed). */
  private handledUpTo(topic: string, partition: number, offset: string): void {
    const key = `${topic}|${partition}`;
    const next = BigInt(offset) + 1n;
    const pending = this.handled.get(key);
    if ((pending && BigInt(pending.offset) >= next) || (this.committed.get(key) ?? -1n) >= next) return;
    this.handled.set(key, { topic, partition, offset: next.toString() });
  }

  /** After a rebalance: a partition now held by another member is no longer this one's to commit. */
  private keepAssigned(assignment: Record<string, number[]>): void {
    this.assigned = new Set(Object.entries(assignment).flatMap(([topic, partitions]) => partitions.map((partition) => `${topic}|${partition}`)));
    for (const key of this.handled.keys()) if (!this.assigned.has(key)) this.handled.delete(key);
  }

  /** Commits what was handled since the last commit; one commit at a time. A failed commit is tried again next time. */
  private commit(): Promise<void> {
    this.committing = this.committing.then(async () => {
      if (this.handled.size === 0) return;
      const offsets = [...this.handled.entries()];
      this.handled.clear();
      try {
        await this.consumer.commitOffsets(offsets.map(([, offset]) => offset));
        for (const [key, { offset }] of offsets) this.committed.set(key, BigInt(offset));
      } catch (error) {
        // A rebalance or the broker away: kept for the next try, unless handled further meanwhile.
        for (const [key, offset] of offsets) {
          if (!this.handled.has(key) && (this.assigned?.has(key) ?? true)) this.handled.set(key, offset);
        }
        this.logger.info({ group: this.group, err: error }, 'offset commit failed; trying again at the next one');
      }
    });
    return this.committing;
  }

  /**
   * One fetched batch of one partition, in order: runs of messages go to the batchHandler (one
   * transaction for the run), falling back to one message at a time when a run fails, so a poison
   * message is retried and parked on its own while the rest are handled once. Each message done
   * is resolved (kafkajs fetches on after it) and noted for the next commit.
   */
  private async handleBatch({ batch, resolveOffset: resolve, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const topic = this.names.logicalTopic(batch.topic);
    const { partition } = batch;
    const resolveOffset = (offset: string): void => {
      resolve(offset);
      this.handledUpTo(batch.topic, partition, offset);
    };
    const batchHandler = this.options.batchHandler;
    for (let start = 0; start < batch.messages.length; start += MAX_BATCH_MESSAGES) {
      // Do not start new work once stop() was called: leave it for the next member of the group.
      if (this.stopping) throw new SubscriptionStopping();
      if (!isRunning() || isStale()) return;
      const run = batch.messages.slice(start, start + MAX_BATCH_MESSAGES);
      if (batchHandler && run.length > 1) {
        try {
          await batchHandler(run.map((message) => ({ ...toIncoming(topic, partition, message), attempt: 1 })));
          resolveOffset(run[run.length - 1]!.offset);
          await heartbeat();
          continue;
        } catch (error) {
          if (this.stopping) throw new SubscriptionStopping();
          this.logger.info({ group: this.group, topic, partition, messages: run.length, err: error }, 'batch failed; handling its messages one at a time');
        }
      }
      for (const message of run) {
        if (this.stopping) throw new SubscriptionStopping();
        if (!isRunning() || isStale()) return;
        await this.handle(topic, partition, message, heartbeat);
        resolveOffset(message.offset);
        await heartbeat();
      }
    }
  }

  private async handle(topic: string, partition: number, message: KafkaMessage, heartbeat: () => Promise<void>): Promise<void> {
    const base = toIncoming(topic, partition, message);
    let delay = this.retryBackoffMs;
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      try {
        await this.options.handler({ ...base, headers: { ...base.headers }, attempt });
        return; // the caller resolves the offset; the next commit includes it.
      } catch (error) {
        lastError = error;
      }
      // Stopping: no more retries and no dead-lettering; the offset stays uncommitted so the
      // group redelivers the message (at least once) after the restart.
      if (this.stopping) throw new SubscriptionStopping();
      if (isTransientDatabaseError(lastError)) {
        // The database, not the event, failed (restart, cut connection): wait for it without
        // spending an attempt, so a good event is never parked because of an outage.
        this.logger.warn({ group: this.group, topic, partition, offset: message.offset, retryInMs: delay, err: lastError }, 'database unavailable; event will be retried');
        await this.sleep(delay, heartbeat);
        if (this.stopping) throw new SubscriptionStopping();
        delay = Math.min(Math.max(delay * 2, 1), MAX_RETRY_BACKOFF_MS);
        attempt--;
        continue;
      }
      if (attempt < this.maxAttempts) {
        this.logger.warn(
          {
            group: this.group,
            topic,
            partition,
            offset: message.offset,
            key: base.key,
            attempt,
            retryInMs: delay,
            err: lastError,
          },
          'event handler failed; retrying',
        );
        await this.sleep(delay, heartbeat);
        if (this.stopping) throw new SubscriptionStopping();
        delay = Math.min(Math.max(delay * 2, 1), MAX_RETRY_BACKOFF_MS);
      }
    }

    const errorText = describeError(lastError);
    const parkedOn = deadLetterTopic(sourceTopicOf(topic));
    await this.publish([
      {
        topic: parkedOn,
        key: base.key,
        value: base.value,
        headers: {
          ...base.headers,
          [DEAD_LETTER_HEADERS.originalTopic]: topic,
          [DEAD_LETTER_HEADERS.originalPartition]: String(partition),
          [DEAD_LETTER_HEADERS.originalOffset]: message.offset,
          [DEAD_LETTER_HEADERS.group]: this.group,
          [DEAD_LETTER_HEADERS.error]: errorText,
          [DEAD_LETTER_HEADERS.attempts]: String(this.maxAttempts),
        },
      },
    ]);
    this.metrics?.eventsDeadLettered.inc({ group: this.group, topic: sourceTopicOf(topic) });
    this.logger.error(
      {
        group: this.group,
        topic,
        partition,
        offset: message.offset,
        key: base.key,
        attempts: this.maxAttempts,
        deadLetterTopic: parkedOn,
        err: lastError,
      },
      'event handler failed on every attempt; message moved to the dead-letter topic',
    );
    // Returning normally lets the caller resolve the offset: the partition moves on.
  }

  /** Waits `ms`, heartbeating so the group coordinator keeps this member during long retries. */
  private async sleep(ms: number, heartbeat: () => Promise<void>): Promise<void> {
    const until = Date.now() + ms;
    while (!this.stopping) {
      const left = until - Date.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.wakers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, HEARTBEAT_INTERVAL_MS));
        this.wakers.add(wake);
      });
      // Throws (REBALANCE_IN_PROGRESS) if the group is rebalancing: kafkajs then rejoins and the
      // message is redelivered to whichever member gets the partition.
      await heartbeat();
    }
  }
}

function toIncoming(topic: string, partition: number, message: KafkaMessage): Omit<IncomingMessage, 'attempt'> {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key ? message.key.toString('utf8') : '',
    value: message.value ? message.value.toString('utf8') : '',
    headers: headersToRecord(message.headers),
  };
}

function headersToRecord(headers: IHeaders | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  if (!headers) return result;
  for (const [name, raw] of Object.entries(headers)) {
    if (raw === undefined) continue;
    // A repeated header name arrives as an array: the last value wins.
    const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (value === undefined) continue;
    result[name] = typeof value === 'string' ? value : value.toString('utf8');
  }
  return result;
}

function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  // Keep headers small.
  return text.length > 1_000 ? `${text.slice(0, 1_000)}…` : text;
}

/**
 * Routes kafkajs' own log lines (WARN and above) into pino. kafkajs logs every error response of
 * every request at ERROR, including retriable ones it then recovers from (coordinator loading,
 * leader moved, group rebalancing): those become warn/info; failures that matter reach our code as
 * rejected promises anyway.
 */
function kafkajsLogCreator(logger: Logger) {
  const routine = /rebalanc|re-joining/i;
  // We bound producer retries on purpose (publish() must fail rather than hang; the outbox retries).
  const expected = /Limiting retries for the idempotent producer/;
  return (_level: number) =>
    ({ namespace, level, log }: LogEntry): void => {
      const { message, timestamp: _timestamp, logger: _logger, ...extra } = log;
      const fields = { namespace, ...extra };
      if (routine.test(message) || expected.test(message)) logger.info(fields, message);
      else if (level === logLevel.ERROR && namespace !== 'Connection' && !('retryCount' in extra)) {
        logger.error(fields, message);
      } else if (level <= logLevel.WARN) logger.warn(fields, message);
      else if (level === logLevel.INFO) logger.info(fields, message);
      else logger.debug(fields, message);
    };
}

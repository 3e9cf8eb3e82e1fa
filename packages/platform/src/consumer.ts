import { EVENTS, EventEnvelope, eventsConsumedBy, isConsumerName, isEventType, type EventData, type EventType } from '@emporium/contracts';
import type { Db, Sql } from './db/types';
import type { BatchHandler, EventBus, IncomingMessage, Subscription } from './bus/types';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import { writeOutbox, type PendingEvent } from './outbox';
import { handledBefore, handleOnce, markHandled } from './inbox';

export interface HandlerContext {
  /** The transaction that also records the event in the inbox: write effects here. */
  tx: Sql;
  envelope: EventEnvelope;
  logger: Logger;
  /** Writes follow-up events to the outbox in the same transaction, keeping the correlation id. */
  emit(events: readonly PendingEvent[]): Promise<void>;
  /**
   * Runs `task` in this process once the transaction has committed; never if it rolls back (a
   * failure, or a duplicate). For work that follows the commit at once, such as making a call the
   * transaction queued. A crash in between loses the task: what it does must also be found another
   * way (a poll), as at least once requires.
   */
  afterCommit(task: () => void | Promise<void>): void;
}

/** Tasks handlers left for after their transaction's commit. */
type AfterCommit = Array<() => void | Promise<void>>;

/** Starts each task; one that fails is logged, and does not stop the others. */
function runAfterCommit(tasks: AfterCommit, logger: Logger): void {
  for (const task of tasks) {
    void Promise.resolve()
      .then(task)
      .catch((error: unknown) => logger.warn({ err: error }, 'task after an event commit failed'));
  }
}

/**
 * A service's handlers, by event type. A handler's effects are the writes of `tx` (and the events it
 * emits): they commit at most once per event. The handler itself may begin again for an event it has
 * handled (a redelivery): the inbox mark travels with its first statement, which then fails, and the
 * transaction rolls back. So a handler changes nothing outside `tx` that a second run would harm.
 */
export type EventHandlers = {
  [T in EventType]?: (data: EventData<T>, context: HandlerContext) => Promise<void>;
};

export interface EventConsumerOptions {
  bus: EventBus;
  db: Db;
  /** Consumer group and inbox name, e.g. `inventory`. */
  group: string;
  /** Service name written as `source` on emitted events. */
  source: string;
  handlers: EventHandlers;
  logger: Logger;
  metrics?: Metrics;
  maxAttempts?: number;
  retryBackoffMs?: number;
  /**
   * Lets runs of different partitions commit side by side. Only for handlers whose events of
   * different keys never lock the same rows (orders: each event locks its own order), or whose
   * `lockRun` takes every such lock first in one common order; otherwise two runs can deadlock.
   * Default false: one run's transaction at a time.
   */
  parallelRuns?: boolean;
  /**
   * For handlers that lock rows shared across keys (inventory: products' stock rows): takes, first
   * in a run's transaction, every row lock the run's handlers will take, in the one order every
   * transaction of the service takes them. The handlers then lock only rows the run already holds.
   * Without it a run would hold one event's locks while taking the next event's, in no common
   * order, and deadlock with another instance or an HTTP write on the same rows. Called with the
   * run's events that are new (not duplicates), in order; a single message runs without it.
   */
  lockRun?: (tx: Sql, events: readonly RunEvent[]) => Promise<void>;
}

/** An event of a run, as `lockRun` sees it: its type and its validated data. */
export type RunEvent = { [T in EventType]: { type: T; data: EventData<T> } }[EventType];

/** What became of one delivered message. */
export type EventOutcome = 'handled' | 'duplicate' | 'ignored';

/**
 * Throws unless `group`'s handlers are exactly the event types routed to it (EVENT_CONSUMERS): a
 * handler without its route would never be delivered on Kafka, a route without its handler would
 * deliver events no one handles. Holds for the services named in EVENT_CONSUMERS, and for any
 * group on a bus that routes; a test's own consumer on the in-process bus may handle what it likes.
 */
export function checkRoutes(group: string, handlers: EventHandlers, bus: Pick<EventBus, 'kind'>): void {
  if (bus.kind !== 'kafka' && !isConsumerName(group)) return;
  const handled = new Set(Object.keys(handlers));
  const routed = new Set<string>(eventsConsumedBy(group));
  const unrouted = [...handled].filter((type) => !routed.has(type));
  const unhandled = [...routed].filter((type) => !handled.has(type));
  if (unrouted.length + unhandled.length === 0) return;
  throw new Error(
    `${group}: handlers and EVENT_CONSUMERS (packages/contracts/src/events/routing.ts) disagree` +
      (unrouted.length > 0 ? `; handled but not routed here: ${unrouted.join(', ')}` : '') +
      (unhandled.length > 0 ? `; routed here but not handled: ${unhandled.join(', ')}` : ''),
  );
}

/** The topics a set of handlers needs. */
export const topicsOf = (handlers: EventHandlers): string[] => [...new Set((Object.keys(handlers) as EventType[]).map((t) => EVENTS[t].topic))];

/**
 * Subscribes a service to the topics of the event types it handles. Each event is validated
 * against its contract and handled once: effect, inbox row and follow-up events commit together.
 * The bus hands over runs of messages of one partition, handled in one transaction; a run that
 * fails is handled again one message at a time (so only a poison event is retried and parked).
 * Events of other types on those topics are acknowledged and ignored.
 */
export async function subscribeEvents(options: EventConsumerOptions): Promise<Subscription> {
  const handle = createEventHandler(options);
  return options.bus.subscribe({
    group: options.group,
    topics: topicsOf(options.handlers),
    // The relay names each event's consuming services (EVENT_CONSUMERS): a routing bus brings this
    // group only its own types. A test's own group on the in-process bus is named by no event, so it
    // reads the whole topics (checkRoutes lets it handle what it likes there).
    routed: options.bus.kind === 'kafka' || isConsumerName(options.group),
    maxAttempts: options.maxAttempts,
    retryBackoffMs: options.retryBackoffMs,
    metrics: options.metrics,
    handler: async (message) => {
      await handle(message);
    },
    batchHandler: createBatchEventHandler(options),
  });
}

type AnyHandler = (data: unknown, context: HandlerContext) => Promise<void>;

interface Prepared {
  envelope: EventEnvelope;
  type: EventType;
  /** Undefined: no handler for this type here (the message is ignored). */
  handler?: AnyHandler;
  data?: unknown;
}

/** Parses and validates one message against its contract; throws when it cannot be handled. */
function prepare(message: IncomingMessage, handlers: EventHandlers): Prepared | { ignoredType: string } {
  // The relay names each event's type in a header: a type handled elsewhere is skipped unparsed
  // (shipping, say, reads every order event to handle one of them).
  const announced = message.headers['event-type'];
  if (announced !== undefined && !(isEventType(announced) && handlers[announced])) return { ignoredType: announced };
  let raw: unknown;
  try {
    raw = JSON.parse(message.value);
  } catch {
    throw new Error(`message at ${message.topic}/${message.partition}@${message.offset} is not JSON`);
  }
  const envelope = EventEnvelope.parse(raw);
  const type = envelope.type;
  const handler = isEventType(type) ? (handlers[type] as AnyHandler | undefined) : undefined;
  if (!handler || !isEventType(type)) return { ignoredType: type };
  return { envelope, type, handler, data: EVENTS[type].data.parse(envelope.data) };
}

function contextFor(options: Pick<EventConsumerOptions, 'source' | 'logger'>, tx: Sql, envelope: EventEnvelope, logger: Logger, afterCommit: AfterCommit): HandlerContext {
  return {
    tx,
    envelope,
    logger,
    afterCommit: (task) => void afterCommit.push(task),
    emit: async (events) => {
      await writeOutbox(tx, events, { source: options.source, correlationId: envelope.correlationId });
    },
  };
}

/**
 * The consumer's path for one message — validate, inbox, effect — also used to re-deliver a
 * parked (dead-lettered) message on staff request. Throws when the message cannot be handled.
 */
export function createEventHandler(options: Omit<EventConsumerOptions, 'bus' | 'maxAttempts' | 'retryBackoffMs'>): (message: IncomingMessage) => Promise<EventOutcome> {
  const { db, group, handlers, metrics } = options;
  return async (message) => {
    const prepared = prepare(message, handlers);
    if ('ignoredType' in prepared) {
      metrics?.eventsHandled.inc({ group, type: prepared.ignoredType, outcome: 'ignored' });
      return 'ignored';
    }
    const { envelope, type, handler, data } = prepared;
    const logger = options.logger.child({ eventId: envelope.id, eventType: type, key: envelope.key, correlationId: envelope.correlationId, attempt: message.attempt });
    try {
      const afterCommit: AfterCommit = [];
      const handled = await handleOnce(db, group, envelope.id, envelope.type, (tx) => handler!(data, contextFor(options, tx, envelope, logger, afterCommit)));
      if (handled) runAfterCommit(afterCommit, logger);
      metrics?.eventsHandled.inc({ group, type, outcome: handled ? 'handled' : 'duplicate' });
      logger.debug({ handled }, handled ? 'event handled' : 'duplicate event skipped');
      return handled ? 'handled' : 'duplicate';
    } catch (error) {
      metrics?.eventsHandled.inc({ group, type, outcome: 'failed' });
      logger.warn({ err: error }, 'event handler failed');
      throw error;
    }
  };
}

/**
 * The consumer's path for a run of messages of one partition: one transaction records every
 * handled message in the inbox (one statement) and applies their effects in order, so the run
 * costs one BEGIN/COMMIT instead of one per message. All or nothing: it throws having changed
 * nothing, and the bus then hands the messages to the one-at-a-time path.
 */
export function createBatchEventHandler(options: Omit<EventConsumerOptions, 'bus' | 'maxAttempts' | 'retryBackoffMs'>): BatchHandler {
  const { db, group, handlers, metrics } = options;
  if (options.parallelRuns) return handleRun;
  // One run's transaction at a time: runs of different partitions may touch the same rows (a
  // product's stock) in no common order, and two long transactions doing so deadlock (PostgreSQL
  // then aborts one after deadlock_timeout, 1 s). Measured: 60 deadlocks in one bench run without this.
  let turn: Promise<unknown> = Promise.resolve();
  return (messages) => {
    const mine = turn.then(() => handleRun(messages));
    turn = mine.catch(() => undefined);
    return mine;
  };

  async function handleRun(messages: readonly IncomingMessage[]): Promise<void> {
    const prepared = messages.map((message) => prepare(message, handlers));
    const work = prepared.filter((p): p is Prepared => !('ignoredType' in p));
    const outcomes: Array<{ type: string; outcome: EventOutcome }> = [];
    const afterCommit: AfterCommit = [];
    if (work.length > 0) {
      const entries = [...new Map(work.map((p) => [p.envelope.id, { id: p.envelope.id, type: p.type }])).values()];
      const run = (skip: ReadonlySet<string>) =>
        db.transaction(async (tx) => {
          outcomes.length = 0;
          afterCommit.length = 0;
          const fresh = entries.filter((e) => !skip.has(e.id));
          if (fresh.length > 0) await markHandled(tx, group, fresh);
          const pending = new Set(fresh.map((e) => e.id));
          if (options.lockRun) {
            const unseen = new Set(pending);
            await options.lockRun(tx, work.filter((p) => unseen.delete(p.envelope.id)).map((p) => ({ type: p.type, data: p.data }) as RunEvent));
          }
          for (const { envelope, type, handler, data } of work) {
            // Handled before this run, or a second copy of an event in the same run: a duplicate.
            if (!pending.delete(envelope.id)) {
              outcomes.push({ type, outcome: 'duplicate' });
              continue;
            }
            const logger = options.logger.child({ eventId: envelope.id, eventType: type, key: envelope.key, correlationId: envelope.correlationId, attempt: 1 });
            await handler!(data, contextFor(options, tx, envelope, logger, afterCommit));
            outcomes.push({ type, outcome: 'handled' });
          }
        });
      try {
        await run(new Set());
      } catch (error) {
        // The run assumed every event new (markHandled). If some were handled before, it runs once
        // more without them; any other failure goes to the bus, which handles the run one at a time.
        const handled = await handledBefore(db, group, entries.map((e) => e.id));
        if (handled.size === 0) throw error;
        await run(handled);
      }
      runAfterCommit(afterCommit, options.logger);
    }
    for (const p of prepared) if ('ignoredType' in p) metrics?.eventsHandled.inc({ group, type: p.ignoredType, outcome: 'ignored' });
    for (const { type, outcome } of outcomes) metrics?.eventsHandled.inc({ group, type, outcome });
    options.logger.debug({ messages: messages.length, handled: outcomes.filter((o) => o.outcome === 'handled').length }, 'event batch handled');
  }
}

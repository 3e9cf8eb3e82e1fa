import { EVENTS, EventEnvelope, isEventType, type EventData, type EventType } from '@emporium/contracts';
import type { Db, Sql } from './db/types';
import type { EventBus, IncomingMessage, Subscription } from './bus/types';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import { writeOutbox, type PendingEvent } from './outbox';
import { handleOnce } from './inbox';

export interface HandlerContext {
  /** The transaction that also records the event in the inbox: write effects here. */
  tx: Sql;
  envelope: EventEnvelope;
  logger: Logger;
  /** Writes follow-up events to the outbox in the same transaction, keeping the correlation id. */
  emit(events: readonly PendingEvent[]): Promise<void>;
}

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
}

/** What became of one delivered message. */
export type EventOutcome = 'handled' | 'duplicate' | 'ignored';

/** The topics a set of handlers needs. */
export const topicsOf = (handlers: EventHandlers): string[] => [...new Set((Object.keys(handlers) as EventType[]).map((t) => EVENTS[t].topic))];

/**
 * Subscribes a service to the topics of the event types it handles. Each event is validated
 * against its contract and handled once: effect, inbox row and follow-up events commit together.
 * Events of other types on those topics are acknowledged and ignored.
 */
export async function subscribeEvents(options: EventConsumerOptions): Promise<Subscription> {
  const handle = createEventHandler(options);
  return options.bus.subscribe({
    group: options.group,
    topics: topicsOf(options.handlers),
    maxAttempts: options.maxAttempts,
    retryBackoffMs: options.retryBackoffMs,
    metrics: options.metrics,
    handler: async (message) => {
      await handle(message);
    },
  });
}

/**
 * The consumer's path for one message — validate, inbox, effect — also used to re-deliver a
 * parked (dead-lettered) message on staff request. Throws when the message cannot be handled.
 */
export function createEventHandler(options: Omit<EventConsumerOptions, 'bus' | 'maxAttempts' | 'retryBackoffMs'>): (message: IncomingMessage) => Promise<EventOutcome> {
  const { db, group, handlers, metrics } = options;
  return async (message) => {
    let raw: unknown;
    try {
      raw = JSON.parse(message.value);
    } catch {
      throw new Error(`message at ${message.topic}/${message.partition}@${message.offset} is not JSON`);
    }
    const envelope = EventEnvelope.parse(raw);
    const type = envelope.type;
    const handler = isEventType(type) ? (handlers[type] as ((data: unknown, c: HandlerContext) => Promise<void>) | undefined) : undefined;
    if (!handler || !isEventType(type)) {
      metrics?.eventsHandled.inc({ group, type, outcome: 'ignored' });
      return 'ignored';
    }
    const logger = options.logger.child({ eventId: envelope.id, eventType: type, key: envelope.key, correlationId: envelope.correlationId, attempt: message.attempt });
    const data = EVENTS[type].data.parse(envelope.data);
    try {
      const handled = await handleOnce(db, group, envelope.id, envelope.type, async (tx) => {
        await handler(data, {
          tx,
          envelope,
          logger,
          emit: async (events) => {
            await writeOutbox(tx, events, { source: options.source, correlationId: envelope.correlationId });
          },
        });
      });
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


import { Counter, Histogram, Registry, collectDefaultMetrics, Gauge } from 'prom-client';

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  eventsPublished: Counter<'topic'>;
  eventsHandled: Counter<'group' | 'type' | 'outcome'>;
  eventsDeadLettered: Counter<'group' | 'topic'>;
  outboxPending: Gauge;
}

/**
 * How often the event-loop lag (`nodejs_eventloop_lag_*`) is sampled, in ms. prom-client's default, 10 ms,
 * wakes an idle process 100 times a second: on this project's 2-core VM that cost 5.6 ms of CPU per second
 * per process, 50 ms for the nine processes of distributed mode. Every 50 ms, any stall of 50 ms or more
 * is still seen; shorter ones only when they overlap a sample.
 */
export const EVENT_LOOP_SAMPLE_MS = 50;

/** One registry per service, so embedded mode can serve each service's own /metrics. */
export function createMetrics(service: string, options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  return {
    registry,
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    eventsPublished: new Counter({
      name: 'events_published_total',
      help: 'Events relayed from the outbox to the bus',
      labelNames: ['topic'],
      registers: [registry],
    }),
    eventsHandled: new Counter({
      name: 'events_handled_total',
      help: 'Events handled by consumers (outcome: handled, duplicate, ignored, failed)',
      labelNames: ['group', 'type', 'outcome'],
      registers: [registry],
    }),
    eventsDeadLettered: new Counter({
      name: 'events_dead_lettered_total',
      help: 'Events parked on a dead-letter topic after exhausting retries',
      labelNames: ['group', 'topic'],
      registers: [registry],
    }),
    outboxPending: new Gauge({
      name: 'outbox_pending_events',
      help: 'Outbox rows not yet published',
      registers: [registry],
    }),
  };
}

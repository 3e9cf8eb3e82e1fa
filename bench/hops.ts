/**
 * Where a distributed checkout's time goes, hop by hop, read after the fact from what the services
 * and the broker already record: each event on its topic — its `occurredAt` (written while the
 * producer's transaction runs) and the Kafka record timestamp (set by the producing relay's
 * `sendBatch`) — and the consumer's inbox row (`handled_at` = start of the consumer's transaction). The follow-up event's `occurredAt` closes the
 * handling time of a hop. Same machine, same clock for all of them.
 */
import kafkajs from 'kafkajs';
import pg from 'pg';
import { TOPICS } from '@emporium/contracts';
import { argOf, percentiles, round } from './lib';

/** The saga's success path: each event, the service that handles it, and the event that handler emits. */
export const SAGA_HOPS = [
  { event: 'order_placed', consumer: 'inventory', next: 'stock_reserved' },
  { event: 'stock_reserved', consumer: 'orders', next: 'order_payment_requested' },
  { event: 'order_payment_requested', consumer: 'payments', next: 'payment_authorized' },
  { event: 'payment_authorized', consumer: 'orders', next: 'order_confirmed' },
  { event: 'order_confirmed', consumer: 'shipping', next: 'shipment_created' },
  { event: 'shipment_created', consumer: 'orders', next: 'order_capture_requested' },
  { event: 'order_capture_requested', consumer: 'payments', next: 'payment_captured' },
  { event: 'payment_captured', consumer: 'orders', next: 'order_completed' },
] as const;

type Pct = ReturnType<typeof percentiles>;
export interface HopFigures {
  event: string;
  consumer: string;
  /** producer's transaction → relay publishes (Kafka timestamp) */
  relay: Pct;
  /** publish → consumer's transaction starts */
  delivery: Pct;
  /** consumer's transaction starts → its follow-up event is written */
  handling: Pct;
}

interface Options {
  prefix: string;
  namespace: string;
  brokers: string[];
  adminUrl: string;
  orderIds: readonly string[];
}

const SERVICES = ['orders', 'inventory', 'payments', 'shipping'] as const;

export async function hopBreakdown(options: Options): Promise<HopFigures[]> {
  const events = await sagaEvents(options, new Set(options.orderIds));
  /** `${consumer}|${eventId}` → handled_at */
  const handled = new Map<string, number>();
  for (const service of SERVICES) {
    const client = new pg.Client({ connectionString: options.adminUrl.replace(/\/[^/]*$/, `/${options.prefix}_${service}`) });
    await client.connect();
    try {
      await client.query(`SET search_path TO ${service}, public`);
      const inbox = await client.query<{ event_id: string; handled_at: Date }>('SELECT event_id, handled_at FROM inbox WHERE consumer = $1', [service]);
      for (const r of inbox.rows) handled.set(`${service}|${r.event_id}`, r.handled_at.getTime());
    } finally {
      await client.end();
    }
  }

  const byOrder = new Map<string, Map<string, string>>();
  for (const [id, e] of events) {
    let types = byOrder.get(e.orderId);
    if (!types) byOrder.set(e.orderId, (types = new Map()));
    types.set(e.type, id);
  }
  return SAGA_HOPS.map((hop) => {
    const relay: number[] = [];
    const delivery: number[] = [];
    const handling: number[] = [];
    for (const types of byOrder.values()) {
      const id = types.get(hop.event);
      const nextId = types.get(hop.next);
      if (!id) continue;
      const { occurred, sent } = events.get(id)!;
      const start = handled.get(`${hop.consumer}|${id}`);
      relay.push(sent - occurred);
      if (start !== undefined) delivery.push(start - sent);
      if (start !== undefined && nextId) handling.push(events.get(nextId)!.occurred - start);
    }
    return { event: hop.event, consumer: hop.consumer, relay: percentiles(relay), delivery: percentiles(delivery), handling: percentiles(handling) };
  });
}

interface SagaEvent {
  type: string;
  orderId: string;
  /** The envelope's occurredAt (producer's transaction). */
  occurred: number;
  /** The record's timestamp (the relay's send). */
  sent: number;
}

/** Reads the saga's topics once from the beginning (a throwaway group): each event of the orders asked about, by event id. */
async function sagaEvents(options: Options, orderIds: Set<string>): Promise<Map<string, SagaEvent>> {
  const prefix = options.namespace ? `${options.namespace}.` : '';
  const topics = [TOPICS.orders, TOPICS.inventory, TOPICS.payments, TOPICS.shipments].map((t) => `${prefix}${t}`);
  const kafka = new kafkajs.Kafka({ clientId: 'bench-hops', brokers: options.brokers, logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  let expected = 0;
  for (const topic of topics) {
    for (const p of await admin.fetchTopicOffsets(topic)) expected += Number(p.high) - Number(p.low);
  }
  await admin.disconnect();
  const found = new Map<string, SagaEvent>();
  let seen = 0;
  const consumer = kafka.consumer({ groupId: `bench-hops-${Date.now()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) {
        seen++;
        if (!message.value) continue;
        const envelope = JSON.parse(message.value.toString()) as { id: string; type: string; occurredAt: string; data: { orderId?: string } };
        const orderId = envelope.data.orderId;
        if (!orderId || !orderIds.has(orderId) || found.has(envelope.id)) continue;
        found.set(envelope.id, { type: envelope.type, orderId, occurred: Date.parse(envelope.occurredAt), sent: Number(message.timestamp) });
      }
      if (seen >= expected) done();
    },
  });
  // A minute at most (the table then covers what was read); the timer must not outlive the read,
  // or it keeps the bench's process alive after its report.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([all, new Promise((resolve) => (timer = setTimeout(resolve, 60_000)))]);
  clearTimeout(timer);
  await consumer.disconnect();
  return found;
}

export function hopTable(hops: HopFigures[]): string[] {
  const f = (p: Pct) => `${round(p.p50, 0)} / ${round(p.p95, 0)} / ${round(p.p99, 0)}`;
  const lines = [
    '| event → handled by | relay: commit → published | delivery: published → handler starts | handling: start → follow-up written | p50 sum |',
    '| --- | --- | --- | --- | --- |',
  ];
  let total = 0;
  for (const h of hops) {
    const sum = h.relay.p50 + h.delivery.p50 + h.handling.p50;
    total += sum;
    lines.push(`| ${h.event} → ${h.consumer} | ${f(h.relay)} | ${f(h.delivery)} | ${f(h.handling)} | ${round(sum, 0)} |`);
  }
  const part = (key: 'relay' | 'delivery' | 'handling') => round(hops.reduce((s, h) => s + h[key].p50, 0), 0);
  lines.push(`| **all 8 hops (sum of p50s)** | ${part('relay')} | ${part('delivery')} | ${part('handling')} | ${round(total, 0)} |`);
  return lines;
}

/** `tsx bench/hops.ts --db-prefix perf_bench --namespace bench-abc123`: the table for every order of a finished run. */
if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const prefix = argOf('db-prefix', 'emporium_bench');
  const adminUrl = process.env.POSTGRES_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const orders = new pg.Client({ connectionString: adminUrl.replace(/\/[^/]*$/, `/${prefix}_orders`) });
  await orders.connect();
  const { rows } = await orders.query<{ id: string }>("SELECT id FROM orders.orders WHERE status = 'completed'");
  await orders.end();
  const hops = await hopBreakdown({ prefix, namespace: argOf('namespace', ''), brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','), adminUrl, orderIds: rows.map((r) => r.id) });
  process.stdout.write(`${rows.length} completed orders\n${hopTable(hops).join('\n')}\n`);
}

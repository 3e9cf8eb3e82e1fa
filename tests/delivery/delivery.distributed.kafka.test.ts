import { randomBytes } from 'node:crypto';
import kafkajs from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumersOf, makeEnvelope } from '@emporium/contracts';
import { createKafkaBus, createKafkaGroupOps, createLogger, type KafkaGroupOps, type Sql } from '@emporium/platform';
import { dropServiceDatabases, startDistributed, SERVICE_NAMES, type DistributedPlatform } from '@emporium/launcher/distributed';
import { call, counter, handledCounts, runCheckouts, snapshotSchema, unsentEvents, until, untilQuiet } from './support';
import { signInStaff, TEST_ADMIN, type Session } from '../support/auth';

const PREFIX = 'emporium_delivery';
const ADMIN_URL = process.env.POSTGRES_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
/** Topics and groups of this run only: replaying "from the beginning" must not reach other runs' events. */
const NAMESPACE = `delivery-${randomBytes(3).toString('hex')}`;

const asSql = (client: pg.Client): Sql => ({
  query: async <T>(text: string, params?: readonly unknown[]) => {
    const result = await client.query(text, params as unknown[]);
    return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
  },
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('delivery that is safe to repeat (distributed: a process per service, PostgreSQL, Kafka)', () => {
  let platform: DistributedPlatform;
  let ops: KafkaGroupOps;
  const databases = new Map<string, pg.Client>();
  let staff: Session;
  const asStaff = (method: string, path: string, body?: unknown) => call(platform.url, method, path, body, staff);
  const serviceUrls = () => Object.fromEntries(SERVICE_NAMES.map((name) => [name, platform.urls[name]]));

  beforeAll(async () => {
    await dropServiceDatabases(PREFIX);
    platform = await startDistributed({
      gatewayPort: 3700,
      servicePortBase: 3700,
      databasePrefix: PREFIX,
      logLevel: 'warn',
      logDir: '.data/delivery-logs',
      admin: TEST_ADMIN,
      env: Object.fromEntries(SERVICE_NAMES.map((name) => [name, { KAFKA_NAMESPACE: NAMESPACE }])),
    });
    staff = await signInStaff(platform.url);
    ops = createKafkaGroupOps({ brokers: BROKERS, namespace: NAMESPACE });
    for (const name of SERVICE_NAMES) {
      const client = new pg.Client({ connectionString: ADMIN_URL.replace(/\/[^/]*$/, `/${PREFIX}_${name}`) });
      await client.connect();
      databases.set(name, client);
    }
  }, 180_000);

  afterAll(async () => {
    await platform?.stop();
    for (const client of databases.values()) await client.end();
    // Leave the shared broker as we found it: this run's groups and topics go.
    await ops?.deleteNamespace().catch(() => undefined);
    await ops?.close();
  }, 90_000);

  const db = (name: string) => asSql(databases.get(name)!);

  const quiet = async () => {
    for (const { group } of await ops.groups()) if ((await ops.lag(group)) > 0) return false;
    for (const name of SERVICE_NAMES) if ((await unsentEvents(db(name), name)) > 0) return false;
    return true;
  };

  const state = async () => {
    const snapshot: Record<string, unknown> = {};
    for (const name of SERVICE_NAMES) snapshot[name] = await snapshotSchema(db(name), name);
    return { snapshot, messages: await messagesOnTopics() };
  };

  /** Every message on this run's topics (dead-letter topics included), as the broker counts them. */
  const messagesOnTopics = async (): Promise<number> => {
    const admin = new kafkajs.Kafka({ clientId: 'delivery-count', brokers: BROKERS, logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      let total = 0;
      for (const topic of (await admin.listTopics()).filter((name) => name.startsWith(`${NAMESPACE}.`))) {
        for (const p of await admin.fetchTopicOffsets(topic)) total += Number(p.high) - Number(p.low);
      }
      return total;
    } finally {
      await admin.disconnect();
    }
  };

  /** Stops every service (its consumers leave their groups), rewinds every group, starts them again. */
  const replayEverything = async (): Promise<number> => {
    for (const name of SERVICE_NAMES) process.kill(platform.pid(name)!, 'SIGTERM');
    await until(async () => (SERVICE_NAMES.every((name) => !alive(platform.pid(name)!)) ? true : undefined), 'the services to stop', 60_000);
    const groups = await until(async () => {
      const listed = await ops.groups();
      return listed.every((g) => g.state === 'Empty') ? listed : undefined;
    }, 'every consumer group to be empty', 60_000);
    let redelivered = 0;
    for (const { group } of groups) redelivered += await ops.rewind(group);
    await Promise.all(SERVICE_NAMES.map((name) => platform.restart(name)));
    return redelivered;
  };

  it('when every topic is replayed from the beginning to every group twice, then no state changes and nothing new is published', async () => {
    await runCheckouts(platform.url);
    await untilQuiet(quiet, 'the checkouts to settle', 90_000);
    const before = await state();
    const groups = (await ops.groups()).map((g) => g.group).sort();
    expect(groups).toEqual(expect.arrayContaining(['cart', 'inventory', 'orders', 'payments', 'shipping']));

    for (const round of [1, 2]) {
      const redelivered = await replayEverything();
      expect(redelivered, `replay ${round}`).toBeGreaterThan(20);
      await untilQuiet(quiet, `replay ${round} to be consumed`, 120_000);
      const after = await state();
      expect(after.snapshot, `replay ${round}: service state`).toEqual(before.snapshot);
      expect(after.messages, `replay ${round}: messages on the topics`).toBe(before.messages);
      // Fresh processes: their counters hold exactly what the replay delivered.
      const counts = await handledCounts(serviceUrls());
      expect(counts.handled, `replay ${round}: events handled anew`).toBe(0);
      expect(counts.failed).toBe(0);
      expect(counts.duplicate + counts.ignored).toBeGreaterThanOrEqual(redelivered);
      console.log(
        `distributed replay ${round}: ${redelivered} deliveries replayed to ${groups.length} groups; ` +
          `${counts.duplicate} absorbed as inbox duplicates, ${counts.ignored} ignored by type; state and topics unchanged (${before.messages} messages)`,
      );
    }
  }, 600_000);

  it('when a poison event arrives over Kafka, then it is parked, counted, listed through the gateway, and the partition moves on', async () => {
    const run = randomBytes(3).toString('hex');
    const product = `kpoison-${run}`;
    expect((await asStaff('POST', '/products', { id: product, sku: `KPS-${run.toUpperCase()}`, name: 'Kafka poison', category: 'delivery', price: { amount: 100, currency: 'EUR' } })).status).toBe(201);
    await until(async () => ((await asStaff('POST', `/inventory/${product}/update`, { set: 10, reason: 'stock' })).status === 200 ? true : undefined), 'inventory to know the product', 60_000);
    const placed = (orderId: string, quantity: number) =>
      makeEnvelope({
        type: 'order_placed',
        source: 'delivery-test',
        key: orderId,
        data: {
          orderId, customerId: `c-${run}`, currency: 'EUR', subtotal: 100 * quantity, discount: 0, total: 100 * quantity,
          items: [{ productId: product, name: 'Kafka poison', quantity, unitPrice: 100, lineTotal: 100 * quantity }],
          paymentMethod: 'credit_card', source: 'direct', reserveUntil: new Date(Date.now() + 3_600_000).toISOString(),
        },
      });
    const poison = placed(`ord_kpoison_${run}`, 0);
    const follower = placed(`ord_kpoison_${run}`, 2);
    // Sent as a relay sends an order event: on order-events and on the delivery topic of each service that handles it.
    const sender = createKafkaBus({ brokers: BROKERS, clientId: 'delivery-poison', logger: createLogger('delivery-poison', 'silent'), namespace: NAMESPACE });
    // Same key, so the same partition: the good event waits behind the poison.
    await sender.publish(
      [poison, follower].map((e) => ({ topic: 'order-events', key: e.key, value: JSON.stringify(e), headers: { 'event-id': e.id, 'event-type': e.type }, deliverTo: consumersOf('order_placed') })),
    );
    await sender.close();

    await until(async () => ((await asStaff('GET', `/inventory/${product}`)).body.reserved === 2 ? true : undefined), 'the later event on the partition to be handled', 60_000);
    const parked = await until(async () => (await asStaff('GET', '/ops/inventory/dead-letters')).body.items.find((d: { eventId: string }) => d.eventId === poison.id), 'the poison to be listed', 60_000);
    expect(parked).toMatchObject({ status: 'parked', topic: 'order-events.for-inventory', type: 'order_placed', attempts: 5 });
    expect(parked.error).toMatch(/quantity/);
    expect(await counter(platform.urls.inventory, 'events_dead_lettered_total', { group: 'inventory', topic: 'order-events' })).toBe(1);
    console.log(`distributed poison: parked by inventory at ${parked.topic}/${parked.partition}@${parked.offset} after ${parked.attempts} attempts`);
  }, 180_000);
});

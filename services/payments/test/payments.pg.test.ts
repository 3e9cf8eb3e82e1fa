import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEnvelope, type EventData } from '@emporium/contracts';
import { createInProcessBus, createLogger, createMetrics, createPostgresDb, type Db, type InProcessBus, type Service } from '@emporium/platform';
import { eventually, freshPostgresDatabase } from '@emporium/platform/testing';
import { startCardProcessor, type CardProcessor } from '@emporium/sandbox-card-processor';
import { createPaymentsService } from '../src/service';

const DATABASES = { payments: 'emporium_test_payments', processor: 'emporium_test_payments_processor' };

const connect = freshPostgresDatabase;

describe('payments on PostgreSQL with the card processor in its own database (distributed mode)', () => {
  const logger = createLogger('payments', 'silent');
  let paymentsDb: Db;
  let processorDb: Db;
  let busDb: Db;
  let bus: InProcessBus;
  let processor: CardProcessor;
  let payments: Service;

  beforeAll(async () => {
    paymentsDb = createPostgresDb({ connectionString: await connect(DATABASES.payments), schema: 'payments', max: 5 });
    processorDb = createPostgresDb({ connectionString: await connect(DATABASES.processor), schema: 'card_processor', max: 5 });
    busDb = createPostgresDb({ connectionString: await connect('emporium_test_payments_bus'), schema: 'bus', max: 3 });
    bus = createInProcessBus({ db: busDb, logger, idlePollMs: 200 });
    await bus.migrate();
    processor = await startCardProcessor({ db: processorDb });
    payments = await createPaymentsService(
      { db: paymentsDb, bus, logger, metrics: createMetrics('payments', { defaultMetrics: false }) },
      { processor: { url: processor.url, secretKey: processor.secretKey }, providerRetryIntervalMs: 200 },
    );
    await payments.start();
  });
  afterAll(async () => {
    await payments?.stop();
    await processor?.stop();
    await bus?.close();
    await busDb?.close();
    await paymentsDb?.close();
    await processorDb?.close();
  });

  const pay = async (orderId: string, token: string) => {
    const envelope = makeEnvelope({
      type: 'order_payment_requested',
      source: 'test',
      key: orderId,
      data: { orderId, customerId: 'c-1', amount: 2500, currency: 'EUR', paymentMethod: 'credit_card', paymentToken: token },
    });
    await bus.publish([{ topic: 'order-events', key: orderId, value: JSON.stringify(envelope) }]);
    return eventually(async () => {
      const res = await payments.app.inject(`/api/payments?orderId=${orderId}`);
      const body = res.json<{ status: string; providerRef: string | null; declineCode: string | null }>();
      return res.statusCode === 200 && body.status !== 'authorizing' ? body : undefined;
    }, 15_000, `payment of ${orderId}`);
  };

  const orderEvent = <T extends 'order_payment_requested' | 'order_capture_requested'>(type: T, data: EventData<T>) => ({
    topic: 'order-events',
    key: data.orderId,
    value: JSON.stringify(makeEnvelope({ type, source: 'test', key: data.orderId, data })),
  });
  const deadlocks = async () => {
    // Statistics reach pg_stat_database within a second of the transaction that counted them.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await paymentsDb.query('SELECT pg_stat_clear_snapshot()');
    return Number((await paymentsDb.query<{ deadlocks: string }>('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()')).rows[0]!.deadlocks);
  };

  it('when orders ask for payments, then the processor authorizes or declines them through the stripe SDK, outside the event transaction', async () => {
    const run = Date.now().toString(36);
    expect(await pay(`pg-ok-${run}`, 'tok_success')).toMatchObject({ status: 'authorized', providerRef: expect.stringMatching(/^pi_/) });
    expect(await pay(`pg-no-${run}`, 'tok_insufficient_funds')).toMatchObject({ status: 'declined', declineCode: 'insufficient_funds' });
    const { rows } = await processorDb.query<{ status: string }>('SELECT status FROM payment_intents ORDER BY created_at');
    expect(rows.map((r) => r.status)).toEqual(['requires_capture', 'requires_payment_method']);
  });

  it('when the payments and captures of forty orders arrive on every partition at once, then the runs commit side by side without a deadlock, and each payment is authorized and captured once', async () => {
    const run = Date.now().toString(36);
    const orders = Array.from({ length: 40 }, (_, i) => `pg-many-${run}-${i}`);
    const before = await deadlocks();
    await bus.publish(orders.map((orderId) => orderEvent('order_payment_requested', { orderId, customerId: 'c-1', amount: 1000, currency: 'EUR', paymentMethod: 'credit_card', paymentToken: 'tok_success' })));
    const paymentOf = new Map<string, string>();
    await eventually(async () => {
      for (const orderId of orders.filter((o) => !paymentOf.has(o))) {
        const body = (await payments.app.inject(`/api/payments?orderId=${orderId}`)).json<{ id?: string; status?: string }>();
        if (body.status === 'authorized') paymentOf.set(orderId, body.id!);
      }
      return paymentOf.size === orders.length;
    }, 30_000, 'forty authorizations');
    await bus.publish(orders.map((orderId) => orderEvent('order_capture_requested', { orderId, paymentId: paymentOf.get(orderId)!, amount: 1000, currency: 'EUR' })));
    await eventually(async () => {
      const { rows } = await paymentsDb.query<{ n: string }>("SELECT count(*) AS n FROM payments WHERE order_id = ANY($1) AND status = 'captured'", [orders]);
      return Number(rows[0]!.n) === orders.length;
    }, 30_000, 'forty captures');

    const { rows: calls } = await paymentsDb.query<{ kind: string; n: number }>(
      'SELECT kind, count(*)::int AS n FROM payment_transactions WHERE payment_id = ANY($1) GROUP BY kind ORDER BY kind',
      [[...paymentOf.values()]],
    );
    expect(calls).toEqual([{ kind: 'authorize', n: 40 }, { kind: 'capture', n: 40 }]);
    expect(await deadlocks()).toBe(before);
  });
});

import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEnvelope, type EventData, type EventType } from '@emporium/contracts';
import { createLogger, type Db, type Service } from '@emporium/platform';
import { createTestPlatform, eventually, type TestPlatform } from '@emporium/platform/testing';
import { createPaymentsService } from '../src/service';
import { createSandboxProvider } from '../src/providers/sandbox';
import type { ProviderFactory } from '../src/providers/provider';

const CARD = { number: '4242 4242 4242 4242', expMonth: 12, expYear: new Date().getUTCFullYear() + 3, cvc: '737', holderName: 'Ada Lovelace' };

describe('payments over HTTP and events on the embedded database', () => {
  let platform: TestPlatform;
  let payments: Service;
  let db: Db;
  const logLines: string[] = [];
  const authorizeCalls: string[] = [];
  let orderNumber = 0;

  // The sandbox, counting authorize calls: a repeated request must reach the provider once.
  const providers: ProviderFactory = (sql) => {
    const sandbox = createSandboxProvider(sql);
    return {
      ...sandbox,
      authorize: (request) => {
        authorizeCalls.push(request.paymentId);
        return sandbox.authorize(request);
      },
    };
  };

  beforeAll(async () => {
    platform = await createTestPlatform();
    const sink = new Writable({ write: (chunk, _encoding, done) => (logLines.push(String(chunk)), done()) });
    const deps = { ...platform.deps('payments'), logger: createLogger('payments', 'trace', sink) };
    db = deps.db;
    payments = await createPaymentsService(deps, { providers });
    await payments.start();
  });
  afterAll(async () => {
    await payments.stop();
    await platform.close();
  });

  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
    payments.app.inject({ method: 'POST', url, payload: payload as object, headers });
  const tokenize = async (card: object) => (await post('/api/payments/tokens', card)).json<{ token: string }>().token;

  const publishOrderEvent = async <T extends EventType>(type: T, key: string, data: EventData<T>) => {
    const envelope = makeEnvelope({ type, source: 'test', key, data });
    await platform.bus.publish([{ topic: 'order-events', key, value: JSON.stringify(envelope) }]);
    return envelope;
  };
  const handled = (eventId: string) =>
    eventually(async () => (await db.query('SELECT 1 FROM inbox WHERE event_id = $1', [eventId])).rowCount > 0, 10_000, `event ${eventId} handled`);
  const outbox = async (orderId: string) =>
    (await db.query<{ type: string; payload: { data: Record<string, unknown> } }>('SELECT type, payload FROM outbox WHERE key = $1 ORDER BY id', [orderId])).rows;

  const requestPayment = async (token: string, amount = 5000) => {
    const orderId = `ord-${++orderNumber}`;
    const data = { orderId, customerId: 'cust-1', amount, currency: 'EUR', paymentMethod: 'credit_card' as const, paymentToken: token };
    const envelope = await publishOrderEvent('order_payment_requested', orderId, data);
    await handled(envelope.id);
    const payment = (await payments.app.inject(`/api/payments?orderId=${orderId}`)).json();
    return { orderId, data, envelope, payment };
  };
  const capture = async (orderId: string, paymentId: string, amount = 5000) =>
    handled((await publishOrderEvent('order_capture_requested', orderId, { orderId, paymentId, amount, currency: 'EUR' })).id);
  const cancel = async (orderId: string, voidPaymentId: string | null) =>
    handled(
      (
        await publishOrderEvent('order_cancelled', orderId, {
          orderId,
          customerId: 'cust-1',
          status: 'cancelled',
          code: 'customer_cancelled',
          reason: 'Cancelled by the customer.',
          releaseStock: true,
          voidPaymentId,
        })
      ).id,
    );

  describe('tokenization (the sandbox processor)', () => {
    it('when a valid card is tokenized, then a token with brand, last4 and expiry comes back and neither number nor CVC is stored or logged', async () => {
      const res = await post('/api/payments/tokens', CARD);
      expect(res.statusCode).toBe(201);
      const token = res.json();
      expect(token).toEqual({ token: expect.stringMatching(/^tok_[0-9a-f]{24}$/), brand: 'visa', last4: '4242', expMonth: 12, expYear: CARD.expYear });

      const { rows: columns } = await db.query<{ column_name: string }>(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'payments' AND table_name = 'sandbox_tokens' ORDER BY ordinal_position",
      );
      expect(columns.map((c) => c.column_name)).toEqual(['token', 'brand', 'last4', 'exp_month', 'exp_year', 'outcome', 'created_at']);
      const { rows } = await db.query('SELECT token, brand, last4, exp_month, exp_year, outcome FROM sandbox_tokens WHERE token = $1', [token.token]);
      expect(rows).toEqual([{ token: token.token, brand: 'visa', last4: '4242', exp_month: 12, exp_year: CARD.expYear, outcome: 'success' }]);

      const { rows: tables } = await db.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'payments'");
      for (const { table_name } of tables) {
        const dump = (await db.query<{ row: string }>(`SELECT t::text AS row FROM payments.${table_name} t`)).rows.map((r) => r.row).join('\n');
        expect(dump, table_name).not.toContain('4242424242424242');
        expect(dump, table_name).not.toContain('737');
      }
      expect(logLines.join('')).not.toMatch(/4242424242424242|4242 4242|737|Ada Lovelace/);
    });

    it('when the number fails the Luhn check, then 422 names number and nothing is stored', async () => {
      const before = (await db.query('SELECT 1 FROM sandbox_tokens')).rowCount;
      const res = await post('/api/payments/tokens', { ...CARD, number: '4242424242424241' });
      expect(res.statusCode).toBe(422);
      expect(res.json()).toMatchObject({ code: 'PAYMENTS.INVALID_CARD_NUMBER', errors: [{ field: 'number' }] });
      expect((await db.query('SELECT 1 FROM sandbox_tokens')).rowCount).toBe(before);
    });

    it('when the card expired last month, then 422 names expMonth and expYear', async () => {
      const now = new Date();
      const lastMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
      const res = await post('/api/payments/tokens', { ...CARD, expMonth: lastMonth.getUTCMonth() + 1, expYear: lastMonth.getUTCFullYear() });
      expect(res.statusCode).toBe(422);
      expect(res.json().errors.map((e: { field: string }) => e.field)).toEqual(['expMonth', 'expYear']);
    });

    it('when the card expires at the end of this month, then it is still accepted', async () => {
      const now = new Date();
      const res = await post('/api/payments/tokens', { ...CARD, expMonth: now.getUTCMonth() + 1, expYear: now.getUTCFullYear() });
      expect(res.statusCode).toBe(201);
    });

    it.each([['12'], ['12345'], ['abc']])('when the CVC is %s, then 400 names cvc', async (cvc) => {
      const res = await post('/api/payments/tokens', { ...CARD, cvc });
      expect(res.statusCode).toBe(400);
      expect(res.json().errors.map((e: { field: string }) => e.field)).toEqual(['cvc']);
    });

    it('when the number holds letters or the month is 13, then 400 names each field', async () => {
      const res = await post('/api/payments/tokens', { ...CARD, number: '4242-abcd', expMonth: 13 });
      expect(res.statusCode).toBe(400);
      expect(res.json().errors.map((e: { field: string }) => e.field)).toEqual(expect.arrayContaining(['number', 'expMonth']));
    });

    it('when the body has an unknown field, then 400 names it', async () => {
      const res = await post('/api/payments/tokens', { ...CARD, pin: '1234' });
      expect(res.statusCode).toBe(400);
      expect(JSON.stringify(res.json().errors)).toContain('pin');
    });
  });

  describe('authorization (order_payment_requested)', () => {
    it('when the order pays with the success card, then the payment is authorized and payment_authorized is published, without card data', async () => {
      const token = await tokenize(CARD);
      const { orderId, payment } = await requestPayment(token);
      expect(payment).toMatchObject({ orderId, customerId: 'cust-1', amount: 5000, currency: 'EUR', provider: 'sandbox', status: 'authorized', declineCode: null });
      expect(payment.providerRef).toMatch(/^ch_/);
      expect(payment.transactions).toMatchObject([{ kind: 'authorize', amount: 5000, outcome: 'succeeded' }]);
      expect(JSON.stringify(payment)).not.toContain(token);
      const events = await outbox(orderId);
      expect(events.map((e) => e.type)).toEqual(['payment_authorized']);
      expect(events[0]!.payload.data).toEqual({ orderId, paymentId: payment.id, amount: 5000, currency: 'EUR', provider: 'sandbox' });
      expect((await payments.app.inject(`/api/payments/${payment.id}`)).json()).toEqual(payment);
    });

    it('when the card is declined, then payment_failed carries card_declined and a reason for the customer', async () => {
      const { orderId, payment } = await requestPayment('tok_declined');
      expect(payment).toMatchObject({ status: 'declined', declineCode: 'card_declined', failureReason: 'Your card was declined.', providerRef: null });
      const events = await outbox(orderId);
      expect(events.map((e) => [e.type, e.payload.data.code, e.payload.data.reason])).toEqual([['payment_failed', 'card_declined', 'Your card was declined.']]);
    });

    it('when the tokenized card has insufficient funds, then payment_failed carries insufficient_funds', async () => {
      const token = await tokenize({ ...CARD, number: '4000000000009995' });
      const { orderId, payment } = await requestPayment(token);
      expect(payment).toMatchObject({ status: 'declined', declineCode: 'insufficient_funds' });
      expect((await outbox(orderId)).map((e) => [e.type, e.payload.data.code, e.payload.data.reason])).toEqual([['payment_failed', 'insufficient_funds', 'Insufficient funds.']]);
    });

    it('when the token is unknown, then payment_failed carries invalid_token', async () => {
      const { payment } = await requestPayment('tok_never_issued');
      expect(payment).toMatchObject({ status: 'declined', declineCode: 'invalid_token' });
    });

    it('when the same payment request is delivered twice, then there is one payment and one authorize call', async () => {
      const { orderId, data, envelope, payment } = await requestPayment('tok_success');
      const redelivered = JSON.stringify(envelope);
      await platform.bus.publish([{ topic: 'order-events', key: orderId, value: redelivered }]);
      const resent = await publishOrderEvent('order_payment_requested', orderId, data);
      await handled(resent.id);
      expect(authorizeCalls.filter((id) => id === payment.id)).toHaveLength(1);
      expect((await db.query('SELECT id FROM payments WHERE order_id = $1', [orderId])).rows).toEqual([{ id: payment.id }]);
      expect((await db.query("SELECT 1 FROM payment_transactions WHERE payment_id = $1 AND kind = 'authorize'", [payment.id])).rowCount).toBe(1);
      expect((await outbox(orderId)).map((e) => e.type)).toEqual(['payment_authorized']);
    });
  });

  describe('capture, void and refund', () => {
    it('when capture is requested, then the authorized amount is captured once and payment_captured is published', async () => {
      const { orderId, payment } = await requestPayment('tok_success', 7300);
      await capture(orderId, payment.id, 7300);
      const captured = (await payments.app.inject(`/api/payments/${payment.id}`)).json();
      expect(captured).toMatchObject({ status: 'captured', capturedAmount: 7300 });
      await capture(orderId, payment.id, 7300);
      const events = await outbox(orderId);
      expect(events.map((e) => e.type)).toEqual(['payment_authorized', 'payment_captured']);
      expect(events[1]!.payload.data).toEqual({ orderId, paymentId: payment.id, amount: 7300, currency: 'EUR' });
    });

    it('when capture is requested for a declined payment, then payment_capture_failed is published', async () => {
      const { orderId, payment } = await requestPayment('tok_declined');
      await capture(orderId, payment.id);
      const events = await outbox(orderId);
      expect(events.map((e) => [e.type, e.payload.data.code])).toEqual([
        ['payment_failed', 'card_declined'],
        ['payment_capture_failed', 'not_authorized'],
      ]);
    });

    it('when the order is cancelled with voidPaymentId, then the authorization is voided once', async () => {
      const { orderId, payment } = await requestPayment('tok_success');
      await cancel(orderId, payment.id);
      await cancel(orderId, payment.id);
      expect((await payments.app.inject(`/api/payments/${payment.id}`)).json()).toMatchObject({ status: 'voided' });
      expect((await outbox(orderId)).map((e) => e.type)).toEqual(['payment_authorized', 'payment_voided']);
      await capture(orderId, payment.id);
      expect((await outbox(orderId)).at(-1)).toMatchObject({ type: 'payment_capture_failed', payload: { data: { code: 'not_authorized' } } });
    });

    it('when a captured order is cancelled, then the payment is refunded in full', async () => {
      const { orderId, payment } = await requestPayment('tok_success', 4000);
      await capture(orderId, payment.id, 4000);
      await cancel(orderId, payment.id);
      await cancel(orderId, payment.id);
      expect((await payments.app.inject(`/api/payments/${payment.id}`)).json()).toMatchObject({ status: 'refunded', capturedAmount: 4000, refundedAmount: 4000 });
      const events = await outbox(orderId);
      expect(events.map((e) => e.type)).toEqual(['payment_authorized', 'payment_captured', 'payment_refunded']);
      expect(events[2]!.payload.data).toMatchObject({ amount: 4000 });
    });

    it('when staff refund part, then too much, then the rest, then again: 200, 422 naming amount, 200, 409', async () => {
      const { orderId, payment } = await requestPayment('tok_success', 10000);
      await capture(orderId, payment.id, 10000);
      const url = `/api/payments/${payment.id}/refund`;

      const partial = await post(url, { amount: 2500, reason: 'damaged item' });
      expect(partial.statusCode).toBe(200);
      expect(partial.json()).toMatchObject({ status: 'partially_refunded', refundedAmount: 2500 });

      const beyond = await post(url, { amount: 7501, reason: 'too much' });
      expect(beyond.statusCode).toBe(422);
      expect(beyond.json()).toMatchObject({ code: 'PAYMENTS.REFUND_TOO_LARGE', errors: [{ field: 'amount' }] });

      const rest = await post(url, { reason: 'order returned' });
      expect(rest.json()).toMatchObject({ status: 'refunded', refundedAmount: 10000 });
      expect((await post(url, { amount: 1, reason: 'again' })).statusCode).toBe(409);

      const refunds = (await outbox(orderId)).filter((e) => e.type === 'payment_refunded').map((e) => e.payload.data.amount);
      expect(refunds).toEqual([2500, 7500]);
    });

    it('when a refund is retried with the same Idempotency-Key, then the money is refunded once', async () => {
      const { orderId, payment } = await requestPayment('tok_success', 3000);
      await capture(orderId, payment.id, 3000);
      const send = () => post(`/api/payments/${payment.id}/refund`, { amount: 1000, reason: 'late delivery' }, { 'idempotency-key': `refund-${orderId}` });
      expect((await send()).json()).toMatchObject({ refundedAmount: 1000 });
      expect((await send()).json()).toMatchObject({ refundedAmount: 1000 });
      expect((await outbox(orderId)).filter((e) => e.type === 'payment_refunded')).toHaveLength(1);
    });

    it('when a payment was only authorized, then a refund is 409 and nothing changes', async () => {
      const { payment } = await requestPayment('tok_success');
      const res = await post(`/api/payments/${payment.id}/refund`, { reason: 'customer asked' });
      expect(res.statusCode).toBe(409);
      expect(res.json().code).toBe('PAYMENTS.NOT_CAPTURED');
      expect((await payments.app.inject(`/api/payments/${payment.id}`)).json()).toMatchObject({ status: 'authorized', refundedAmount: 0 });
    });

    it('when the refund body is invalid, then 400 names the fields', async () => {
      const res = await post('/api/payments/pay_x/refund', { amount: -5, note: 'x' });
      expect(res.statusCode).toBe(400);
      expect(JSON.stringify(res.json().errors)).toMatch(/amount[\s\S]*(reason|note)|reason[\s\S]*amount/);
    });
  });

  describe('reads and platform routes', () => {
    it('when a payment or an order payment does not exist, then 404 is a problem document', async () => {
      const one = await payments.app.inject('/api/payments/pay_missing');
      expect(one.statusCode).toBe(404);
      expect(one.headers['content-type']).toContain('application/problem+json');
      expect((await payments.app.inject('/api/payments?orderId=ord-none')).json()).toMatchObject({ status: 404, code: 'PAYMENTS.PAYMENT_NOT_FOUND' });
      expect((await payments.app.inject('/api/payments')).statusCode).toBe(400);
    });

    it('when health and docs are asked for, then they answer', async () => {
      expect((await payments.app.inject('/health/ready')).json()).toEqual({ status: 'ok', checks: { database: true, bus: true } });
      const docs = (await payments.app.inject('/docs/json')).json();
      expect(Object.keys(docs.paths)).toEqual(
        expect.arrayContaining(['/api/payments', '/api/payments/{paymentId}', '/api/payments/{paymentId}/refund', '/api/payments/tokens']),
      );
    });
  });
});

import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeEnvelope, type EventData, type EventType } from '@emporium/contracts';
import { createEventHandler, createLogger, type Db, type Service } from '@emporium/platform';
import { createTestPlatform, emittedEvents, eventually, type TestPlatform } from '@emporium/platform/testing';
import { startCardProcessor, type CardProcessor } from '@emporium/sandbox-card-processor';
import { createPaymentsService } from '../src/service';
import { createStripeProvider } from '../src/providers/stripe';
import type { PaymentProvider } from '../src/providers/provider';
import { paymentHandlers } from '../src/events/handlers';
import { createPaymentsStore } from '../src/store/payments.store';

const YEAR = new Date().getUTCFullYear() + 3;

/** Tokenizes at the processor, as the storefront's card form does: a form post with the publishable key. */
async function tokenizeAt(processor: CardProcessor, number: string, expYear = YEAR): Promise<string> {
  const res = await fetch(`${processor.url}/v1/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ key: processor.publishableKey, 'card[number]': number, 'card[exp_month]': '12', 'card[exp_year]': String(expYear), 'card[cvc]': '737' }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { id: string }).id;
}

describe('payments over HTTP and events on the embedded database, with the sandbox card processor', () => {
  let platform: TestPlatform;
  let payments: Service;
  let processor: CardProcessor;
  let db: Db;
  const logLines: string[] = [];
  const authorizeCalls: string[] = [];
  /** Payments whose authorization is with the processor right now. */
  const authorizing = new Set<string>();
  /** What each look for due processor calls read: the calls' payments, and those of them whose authorization was with the processor as it read. */
  const looks: Array<{ read: string[]; underWay: string[] }> = [];
  /** Authorizations paying with these tokens wait at the processor until the promise resolves. */
  const heldTokens = new Map<string, Promise<void>>();
  /** Calls the worker makes at once here: few, so a test can fill every place. */
  const CALLS_AT_ONCE = 8;
  let orderNumber = 0;
  let shiftMs = 0;
  const startProcessor = (port = 0) =>
    startCardProcessor({ db: platform.pglite.forSchema('card_processor'), port, clock: () => new Date(Date.now() + shiftMs) });

  beforeAll(async () => {
    platform = await createTestPlatform();
    processor = await startProcessor();
    // The stripe SDK against the sandbox, counting authorize calls: a repeated request must reach the processor once.
    const stripe = createStripeProvider({ url: processor.url, secretKey: processor.secretKey, maxNetworkRetries: 0, timeoutMs: 2000 });
    const provider: PaymentProvider = {
      ...stripe,
      authorize: async (request) => {
        authorizeCalls.push(request.paymentId);
        authorizing.add(request.paymentId);
        try {
          await heldTokens.get(request.token);
          return await stripe.authorize(request);
        } finally {
          authorizing.delete(request.paymentId);
        }
      },
    };
    const sink = new Writable({ write: (chunk, _encoding, done) => (logLines.push(String(chunk)), done()) });
    const base = platform.deps('payments');
    // The service's own database, noting what each look for due processor calls read.
    const recording: Db = {
      ...base.db,
      query: async (text, params) => {
        const result = await base.db.query(text, params);
        if (text.includes('FROM provider_calls c')) {
          const read = (result.rows as Array<{ payment_id: string }>).map((r) => r.payment_id);
          looks.push({ read, underWay: read.filter((id) => authorizing.has(id)) });
        }
        return result as never;
      },
    };
    const deps = { ...base, db: recording, logger: createLogger('payments', 'trace', sink) };
    db = deps.db;
    payments = await createPaymentsService(deps, { provider, providerRetryIntervalMs: 100, processorCallsAtOnce: CALLS_AT_ONCE });
    await payments.start();
  });
  afterAll(async () => {
    await payments.stop();
    await processor.stop();
    await platform.close();
  });

  const tokenize = (number: string, expYear = YEAR) => tokenizeAt(processor, number, expYear);
  /** The processor calls an event asked for have been made and recorded. */
  const settled = (paymentId: string) =>
    eventually(async () => (await db.query('SELECT 1 FROM provider_calls WHERE payment_id = $1', [paymentId])).rowCount === 0, 10_000, `processor calls of ${paymentId}`);
  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
    payments.app.inject({ method: 'POST', url, payload: payload as object, headers });

  const publishOrderEvent = async <T extends EventType>(type: T, key: string, data: EventData<T>) => {
    const envelope = makeEnvelope({ type, source: 'test', key, data });
    await platform.bus.publish([{ topic: 'order-events', key, value: JSON.stringify(envelope) }]);
    return envelope;
  };
  const handled = (eventId: string) =>
    eventually(async () => (await db.query('SELECT 1 FROM inbox WHERE event_id = $1', [eventId])).rowCount > 0, 10_000, `event ${eventId} handled`);
  const outbox = async (orderId: string) =>
    (await db.query<{ type: string; payload: { data: Record<string, unknown> } }>(`SELECT type, payload FROM ${emittedEvents('payments')} WHERE key = $1 ORDER BY seq`, [orderId])).rows;

  const requestPayment = async (token: string, amount = 5000) => {
    const orderId = `ord-${++orderNumber}`;
    const data = { orderId, customerId: 'cust-1', amount, currency: 'EUR', paymentMethod: 'credit_card' as const, paymentToken: token };
    const envelope = await publishOrderEvent('order_payment_requested', orderId, data);
    await handled(envelope.id);
    const { id } = (await payments.app.inject(`/api/payments?orderId=${orderId}`)).json<{ id: string }>();
    await settled(id);
    const payment = (await payments.app.inject(`/api/payments/${id}`)).json();
    return { orderId, data, envelope, payment };
  };
  const capture = async (orderId: string, paymentId: string, amount = 5000) => {
    await handled((await publishOrderEvent('order_capture_requested', orderId, { orderId, paymentId, amount, currency: 'EUR' })).id);
    await settled(paymentId);
  };
  const cancel = async (orderId: string, voidPaymentId: string | null) => {
    await handled(
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
    if (voidPaymentId) await settled(voidPaymentId);
  };

  it('when a payment is requested, then its processor call is handed to the worker once the event commits, and a redelivery hands over nothing', async () => {
    const store = createPaymentsStore(db, 'payments');
    const handedOver: Array<{ paymentId: string; committed: number }> = [];
    let paymentId = '';
    const handle = createEventHandler({
      db,
      group: 'payments-handover',
      source: 'payments',
      logger: createLogger('t', 'silent'),
      handlers: paymentHandlers({
        store,
        providerName: 'stripe',
        newPaymentId: () => (paymentId = `pay_handover_${++orderNumber}`),
        callQueued: () =>
          // The payment row, written with the call, is visible outside the transaction (the running service may already have made the call).
          void db.query('SELECT 1 FROM payments WHERE id = $1', [paymentId]).then(({ rowCount }) => handedOver.push({ paymentId, committed: rowCount })),
      }),
    });
    const orderId = `ord-handover-${orderNumber}`;
    const envelope = makeEnvelope({
      type: 'order_payment_requested',
      source: 'test',
      key: orderId,
      data: { orderId, customerId: 'cust-1', amount: 100, currency: 'EUR', paymentMethod: 'credit_card' as const, paymentToken: 'tok_unknown' },
    });
    const message = { topic: 'order-events', key: orderId, value: JSON.stringify(envelope), headers: { 'event-type': envelope.type }, partition: 0, offset: '0', attempt: 1 };
    expect(await handle(message)).toBe('handled');
    expect(await handle(message)).toBe('duplicate');
    await eventually(async () => handedOver.length > 0, 5_000, 'the hand-over');
    await new Promise((r) => setTimeout(r, 50));
    // Told after the commit, and once.
    expect(handedOver).toEqual([{ paymentId, committed: 1 }]);
  });

  describe('card data', () => {
    it('when a card tokenized at the processor pays, then payments stores and logs neither number, CVC nor token in the clear', async () => {
      const token = await tokenize('4242424242424242');
      const { payment } = await requestPayment(token);
      expect(payment.status).toBe('authorized');
      const { rows: tables } = await db.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'payments'");
      for (const { table_name } of tables) {
        const dump = (await db.query<{ row: string }>(`SELECT t::text AS row FROM payments.${table_name} t`)).rows.map((r) => r.row).join('\n');
        expect(dump, table_name).not.toContain('4242424242424242');
        expect(dump, table_name).not.toContain(token);
      }
      const logs = logLines.join('');
      expect(logs).not.toContain('4242424242424242');
      expect(logs).not.toContain(token);
      // The CVC as a value of its own: a bare /737/ also matched inside random request ids (e187379e…).
      expect(logs).not.toMatch(/"cvc"|(?<![\w.-])737(?![\w.-])/i);
    });

    it('when a client posts a card to payments, then there is no such endpoint: tokenization belongs to the processor', async () => {
      const res = await post('/api/payments/tokens', { number: '4242424242424242', expMonth: 12, expYear: YEAR, cvc: '737' });
      expect(res.statusCode).toBe(404);
    });
  });

  describe('authorization (order_payment_requested)', () => {
    it('when the order pays with the success card, then the payment is authorized and payment_authorized is published, without card data', async () => {
      const token = await tokenize('4242424242424242');
      const { orderId, payment } = await requestPayment(token);
      expect(payment).toMatchObject({ orderId, customerId: 'cust-1', amount: 5000, currency: 'EUR', provider: 'stripe', status: 'authorized', declineCode: null });
      expect(payment.providerRef).toMatch(/^pi_/);
      expect(payment.transactions).toMatchObject([{ kind: 'authorize', amount: 5000, outcome: 'succeeded' }]);
      expect(JSON.stringify(payment)).not.toContain(token);
      const events = await outbox(orderId);
      expect(events.map((e) => e.type)).toEqual(['payment_authorized']);
      expect(events[0]!.payload.data).toEqual({ orderId, paymentId: payment.id, amount: 5000, currency: 'EUR', provider: 'stripe' });
      expect((await payments.app.inject(`/api/payments/${payment.id}`)).json()).toEqual(payment);
    });

    it('when the card is declined, then payment_failed carries card_declined and a reason for the customer', async () => {
      const { orderId, payment } = await requestPayment('tok_declined');
      expect(payment).toMatchObject({ status: 'declined', declineCode: 'card_declined', failureReason: 'Your card was declined.', providerRef: null });
      const events = await outbox(orderId);
      expect(events.map((e) => [e.type, e.payload.data.code, e.payload.data.reason])).toEqual([['payment_failed', 'card_declined', 'Your card was declined.']]);
    });

    it('when the tokenized card has insufficient funds, then payment_failed carries insufficient_funds', async () => {
      const token = await tokenize('4000000000009995');
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

  describe('making processor calls', () => {
    /**
     * Requests a payment whose authorization waits at the processor until `answer` is called;
     * resolves once the call is under way. `answer` also settles the call and lifts the hold.
     */
    const heldAuthorization = async (orderId: string, amount: number) => {
      const token = await tokenize('4242424242424242');
      let release!: () => void;
      heldTokens.set(token, new Promise<void>((resolve) => (release = resolve)));
      const requested = await publishOrderEvent('order_payment_requested', orderId, {
        orderId,
        customerId: 'cust-1',
        amount,
        currency: 'EUR',
        paymentMethod: 'credit_card' as const,
        paymentToken: token,
      });
      await handled(requested.id);
      const paymentId = (await payments.app.inject(`/api/payments?orderId=${orderId}`)).json<{ id: string }>().id;
      await eventually(async () => authorizeCalls.includes(paymentId), 5_000, `the authorization of ${orderId} under way`);
      const answer = async () => {
        release();
        await settled(paymentId);
        heldTokens.delete(token);
      };
      return { paymentId, answer };
    };

    it('when the authorization of one payment is slow at the processor, then another payment is authorized meanwhile, and the slow one is called once', async () => {
      const { paymentId: slowId, answer } = await heldAuthorization(`ord-slow-${++orderNumber}`, 700);

      // Made while the slow call is still with the processor (requestPayment waits for it to be recorded).
      const { payment: fast } = await requestPayment(await tokenize('4242424242424242'));
      expect(fast.status).toBe('authorized');
      // Several polls (every 100 ms) pass while the slow call is under way: none makes it again.
      await new Promise((resolve) => setTimeout(resolve, 350));
      expect((await payments.app.inject(`/api/payments/${slowId}`)).json()).toMatchObject({ status: 'authorizing' });

      await answer();
      expect((await payments.app.inject(`/api/payments/${slowId}`)).json()).toMatchObject({ status: 'authorized' });
      expect(authorizeCalls.filter((id) => id === slowId)).toHaveLength(1);
    });

    it('when more payments wait at the processor than are called at once, then the rest wait their turn, no look reads a call under way, and all are authorized once it answers', async () => {
      const first = looks.length;
      // Every place taken (CALLS_AT_ONCE calls at once): two more wait for a free place.
      const held = await Promise.all(Array.from({ length: CALLS_AT_ONCE }, (_, i) => heldAuthorization(`ord-busy-${++orderNumber}-${i}`, 900 + i)));
      const waitingTokens = await Promise.all([tokenize('4242424242424242'), tokenize('4242424242424242')]);
      let releaseWaiting!: () => void;
      const waitingHeld = new Promise<void>((resolve) => (releaseWaiting = resolve));
      for (const token of waitingTokens) heldTokens.set(token, waitingHeld);
      const waiting = await Promise.all(
        waitingTokens.map(async (token, i) => {
          const orderId = `ord-busy-${++orderNumber}-waiting-${i}`;
          await handled((await publishOrderEvent('order_payment_requested', orderId, { orderId, customerId: 'cust-1', amount: 950 + i, currency: 'EUR', paymentMethod: 'credit_card', paymentToken: token })).id);
          return (await payments.app.inject(`/api/payments?orderId=${orderId}`)).json<{ id: string }>().id;
        }),
      );
      // Polls every 100 ms meanwhile: with every place taken, none is made, and no call is made twice.
      await new Promise((resolve) => setTimeout(resolve, 350));
      expect(waiting.filter((id) => authorizeCalls.includes(id))).toEqual([]);
      expect(authorizing.size).toBe(CALLS_AT_ONCE);

      for (const h of held) await h.answer();
      releaseWaiting();
      for (const id of waiting) await settled(id);
      for (const id of [...held.map((h) => h.paymentId), ...waiting]) {
        expect((await payments.app.inject(`/api/payments/${id}`)).json()).toMatchObject({ status: 'authorized' });
        expect(authorizeCalls.filter((called) => called === id)).toHaveLength(1);
      }
      // Every look read only calls it could start: none already with the processor, never more than the free places and one.
      const busyLooks = looks.slice(first);
      expect(busyLooks.length).toBeGreaterThan(0);
      expect(busyLooks.flatMap((look) => look.underWay)).toEqual([]);
      expect(Math.max(...busyLooks.map((look) => look.read.length))).toBeLessThanOrEqual(CALLS_AT_ONCE + 1);
    });

    it('when the payment changes while its call is with the processor, then the answer is recorded on the payment as it is now, not as the call read it', async () => {
      const orderId = `ord-changed-${++orderNumber}`;
      const { paymentId, answer } = await heldAuthorization(orderId, 800);
      // Another instance (or staff) ended the payment meanwhile: the call read it as authorizing.
      await db.query("UPDATE payments SET status = 'declined', failure_reason = 'ended meanwhile', version = version + 1 WHERE id = $1", [paymentId]);

      await answer();
      // Recorded on the row as it is now: authorizing no more, so the answer changes nothing.
      expect((await payments.app.inject(`/api/payments/${paymentId}`)).json()).toMatchObject({ status: 'declined', failureReason: 'ended meanwhile' });
      expect((await outbox(orderId)).map((e) => e.type)).not.toContain('payment_authorized');
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

    it('when eight refunds of one payment arrive at once, then they are made in turn: each 200, the refunded total their sum, no 5xx', async () => {
      const { orderId, payment } = await requestPayment('tok_success', 5000);
      await capture(orderId, payment.id, 5000);
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => post(`/api/payments/${payment.id}/refund`, { amount: 100, reason: `goodwill ${i}` })));
      expect(answers.map((a) => a.statusCode)).toEqual(Array(8).fill(200));
      expect((await payments.app.inject(`/api/payments/${payment.id}`)).json()).toMatchObject({ status: 'partially_refunded', refundedAmount: 800 });
      expect((await outbox(orderId)).filter((e) => e.type === 'payment_refunded').map((e) => e.payload.data.amount)).toEqual(Array(8).fill(100));
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

  describe('what the processor refuses, and when it is down', () => {
    it('when the issuer refuses the capture (tok_capture_fails), then payment_capture_failed carries capture_declined and the authorization can be voided', async () => {
      const { orderId, payment } = await requestPayment('tok_capture_fails');
      expect(payment.status).toBe('authorized');
      await capture(orderId, payment.id);
      expect((await outbox(orderId)).map((e) => [e.type, e.payload.data.code])).toEqual([
        ['payment_authorized', undefined],
        ['payment_capture_failed', 'capture_declined'],
      ]);
      await cancel(orderId, payment.id);
      expect((await payments.app.inject(`/api/payments/${payment.id}`)).json()).toMatchObject({ status: 'voided' });
    });

    it('when the authorization lapsed at the processor, then the capture fails with authorization_expired', async () => {
      const { orderId, payment } = await requestPayment('tok_success');
      shiftMs = 8 * 24 * 60 * 60_000;
      try {
        await capture(orderId, payment.id);
      } finally {
        shiftMs = 0;
      }
      expect((await outbox(orderId)).at(-1)).toMatchObject({ type: 'payment_capture_failed', payload: { data: { code: 'authorization_expired' } } });
    });

    it('when the processor is down, then the payment waits (authorizing, refunds 503) and is authorized once it is back', async () => {
      const captured = await requestPayment('tok_success', 2000);
      await capture(captured.orderId, captured.payment.id, 2000);
      const port = Number(new URL(processor.url).port);
      await processor.stop();
      try {
        const orderId = `ord-${++orderNumber}`;
        const envelope = await publishOrderEvent('order_payment_requested', orderId, { orderId, customerId: 'cust-1', amount: 900, currency: 'EUR', paymentMethod: 'credit_card', paymentToken: 'tok_success' });
        await handled(envelope.id);
        const { id } = (await payments.app.inject(`/api/payments?orderId=${orderId}`)).json<{ id: string }>();
        await eventually(async () => ((await db.query<{ attempts: number }>('SELECT attempts FROM provider_calls WHERE payment_id = $1', [id])).rows[0]?.attempts ?? 0) >= 1, 10_000, 'a failed attempt');
        expect((await payments.app.inject(`/api/payments/${id}`)).json()).toMatchObject({ status: 'authorizing' });
        expect(await outbox(orderId)).toEqual([]);
        const refund = await post(`/api/payments/${captured.payment.id}/refund`, { reason: 'while down' });
        expect(refund.statusCode).toBe(503);
        expect(refund.json().code).toBe('PAYMENTS.PROVIDER_UNAVAILABLE');

        processor = await startProcessor(port);
        await settled(id);
        expect((await payments.app.inject(`/api/payments/${id}`)).json()).toMatchObject({ status: 'authorized', transactions: [{ kind: 'authorize', outcome: 'succeeded' }] });
        expect((await outbox(orderId)).map((e) => e.type)).toEqual(['payment_authorized']);
      } finally {
        if (!processor.app.server.listening) processor = await startProcessor(port);
      }
    }, 30_000);
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
        expect.arrayContaining(['/api/payments', '/api/payments/{paymentId}', '/api/payments/{paymentId}/refund']),
      );
    });
  });
});

describe('a backlog of processor calls', () => {
  it('when forty payments are requested at once, then all are authorized within seconds by calls that start as others end, though the worker polls only once a minute; and the calls made are vacuumed away', async () => {
    const platform = await createTestPlatform();
    const processor = await startCardProcessor({ db: platform.pglite.forSchema('card_processor'), port: 0 });
    const stripe = createStripeProvider({ url: processor.url, secretKey: processor.secretKey, maxNetworkRetries: 0, timeoutMs: 2000 });
    // Answers at uneven speeds, so calls end while the worker is looking for the next ones.
    const provider: PaymentProvider = { ...stripe, authorize: async (request) => (await new Promise((r) => setTimeout(r, 1 + Math.random() * 15)), stripe.authorize(request)) };
    const deps = platform.deps('payments');
    const payments = await createPaymentsService(deps, { provider, providerRetryIntervalMs: 60_000, providerCallsVacuumAfter: 25 });
    const vacuums = async () =>
      (await deps.db.query<{ n: number }>("SELECT coalesce(sum(vacuum_count), 0)::int AS n FROM pg_stat_user_tables WHERE relname = 'provider_calls'")).rows[0]!.n;
    const before = await vacuums();
    await payments.start();
    try {
      const tokens = await Promise.all(Array.from({ length: 40 }, () => tokenizeAt(processor, '4242424242424242')));
      await platform.bus.publish(
        tokens.map((paymentToken, i) => {
          const orderId = `ord-backlog-${i}`;
          const envelope = makeEnvelope({ type: 'order_payment_requested', source: 'test', key: orderId, data: { orderId, customerId: 'cust-1', amount: 100 + i, currency: 'EUR', paymentMethod: 'credit_card', paymentToken } });
          return { topic: 'order-events', key: orderId, value: JSON.stringify(envelope) };
        }),
      );
      const authorized = async () => (await deps.db.query<{ n: number }>("SELECT count(*)::int AS n FROM payments WHERE status = 'authorized'")).rows[0]!.n;
      await eventually(async () => (await authorized()) === 40, 10_000, 'forty authorized payments');
      expect((await deps.db.query('SELECT 1 FROM provider_calls')).rowCount).toBe(0);
      // 40 calls ended, past the 25 that bring a vacuum: the next looks do not walk their dead rows.
      await eventually(async () => (await vacuums()) > before, 5_000, 'a vacuum of provider_calls');
    } finally {
      await payments.stop();
      await processor.stop();
      await platform.close();
    }
  });
});

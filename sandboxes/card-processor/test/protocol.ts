import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '@emporium/platform';
import { startCardProcessor, type CardProcessor } from '../src/index';

const YEAR = new Date().getUTCFullYear() + 3;

/** The processor's protocol, driven through the official stripe SDK, on whichever database `open` gives. */
export function describeCardProcessor(engine: string, open: () => Promise<{ db: Db; close(): Promise<void> }>): void {
  describe(`the sandbox card processor on ${engine}, driven through the official stripe SDK`, () => {
    let owner: { db: Db; close(): Promise<void> };
    let db: Db;
    let processor: CardProcessor;
    let server: Stripe;
    let browser: Stripe;
    let shiftMs = 0;
    const LIFETIME_MS = 7 * 24 * 60 * 60_000;

    const sdk = (key: string, url: string) => {
      const { hostname, port } = new URL(url);
      return new Stripe(key, { host: hostname, port: Number(port), protocol: 'http', maxNetworkRetries: 0, timeout: 5000 });
    };
    const start = async () => {
      processor = await startCardProcessor({ db, authorizationLifetimeMs: LIFETIME_MS, clock: () => new Date(Date.now() + shiftMs) });
      server = sdk(processor.secretKey, processor.url);
      browser = sdk(processor.publishableKey, processor.url);
    };

    beforeAll(async () => {
      owner = await open();
      db = owner.db;
      await start();
    });
    afterAll(async () => {
      await processor?.stop();
      await owner?.close();
    });

    const tokenize = async (number: string, extra: Partial<Stripe.TokenCreateParams.Card> = {}) =>
      (await browser.tokens.create({ card: { number, exp_month: '12', exp_year: String(YEAR), cvc: '737', ...extra } })).id;
    const authorize = (token: string, amount = 5000, options: Stripe.RequestOptions = {}) =>
      server.paymentIntents.create(
        { amount, currency: 'eur', capture_method: 'manual', confirm: true, payment_method_data: { type: 'card', card: { token } } as Stripe.PaymentIntentCreateParams.PaymentMethodData, metadata: { payment_id: 'pay_1' } },
        options,
      );
    const failure = async (work: Promise<unknown>): Promise<Stripe.errors.StripeError> => {
      try {
        await work;
      } catch (error) {
        if (error instanceof Stripe.errors.StripeError) return error;
        throw error;
      }
      throw new Error('expected the call to fail');
    };

    describe('tokenization', () => {
      it('when a browser tokenizes a card with the publishable key, then a Stripe token comes back and neither number nor CVC is stored', async () => {
        const token = await browser.tokens.create({ card: { number: '4242 4242 4242 4242', exp_month: '12', exp_year: String(YEAR), cvc: '737' } });
        expect(token).toMatchObject({ id: expect.stringMatching(/^tok_[A-Za-z0-9]{24}$/), object: 'token', type: 'card', livemode: false });
        expect(token.card).toMatchObject({ brand: 'Visa', last4: '4242', exp_month: 12, exp_year: YEAR, object: 'card' });
        // Every stored column is accounted for, so neither the number nor the CVC can hide in one. (Searching
        // the row's text for '737' failed about once in a thousand runs: random ids and timestamps hold it too.)
        const { rows } = await db.query<Record<string, unknown>>('SELECT * FROM tokens WHERE id = $1', [token.id]);
        expect(rows).toHaveLength(1);
        expect(Object.keys(rows[0]!).sort()).toEqual(['brand', 'card_id', 'created_at', 'exp_month', 'exp_year', 'id', 'last4', 'outcome']);
        expect(rows[0]).toMatchObject({ id: token.id, card_id: token.card!.id, brand: 'Visa', last4: '4242', exp_month: 12, exp_year: YEAR, outcome: 'success' });
      });

      it.each([
        ['4242424242424241', {}, 'incorrect_number', 'number'],
        ['4242-abcd', {}, 'invalid_number', 'number'],
        ['4242424242424242', { exp_month: '13' }, 'invalid_expiry_month', 'exp_month'],
        ['4242424242424242', { exp_year: '2001' }, 'invalid_expiry_year', 'exp_year'],
        ['4242424242424242', { cvc: '12' }, 'invalid_cvc', 'cvc'],
      ])('when the card is %s %o, then a 402 card_error %s names %s', async (number, extra, code, param) => {
        const error = await failure(tokenize(number, extra));
        expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
        expect(error).toMatchObject({ statusCode: 402, type: 'StripeCardError', code, param });
      });

      it('when the card expired last month, then it is refused; when it expires at the end of this month, then it is accepted', async () => {
        const now = new Date();
        const last = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
        const error = await failure(tokenize('4242424242424242', { exp_month: String(last.getUTCMonth() + 1), exp_year: String(last.getUTCFullYear()) }));
        expect(error.code).toMatch(/^invalid_expiry_(month|year)$/);
        expect(await tokenize('4242424242424242', { exp_month: String(now.getUTCMonth() + 1), exp_year: String(now.getUTCFullYear()) })).toMatch(/^tok_/);
      });

      it('when a parameter is unknown or missing, then 400 invalid_request_error names it', async () => {
        const unknown = await failure(browser.tokens.create({ card: { number: '4242424242424242', exp_month: '12', exp_year: String(YEAR), pin: '1234' } as Stripe.TokenCreateParams.Card }));
        expect(unknown).toMatchObject({ statusCode: 400, type: 'StripeInvalidRequestError', code: 'parameter_unknown', param: 'card[pin]' });
        const missing = await failure(browser.tokens.create({ card: { number: '4242424242424242', exp_year: String(YEAR) } as Stripe.TokenCreateParams.Card }));
        expect(missing).toMatchObject({ statusCode: 400, code: 'parameter_missing', param: 'card[exp_month]' });
      });

      it('when a page posts the form with its publishable key from another origin, then CORS allows it', async () => {
        const preflight = await fetch(`${processor.url}/v1/tokens`, { method: 'OPTIONS', headers: { origin: 'http://shop.example', 'access-control-request-method': 'POST' } });
        expect(preflight.status).toBe(204);
        expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
        expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
        const res = await fetch(`${processor.url}/v1/tokens`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://shop.example' },
          body: new URLSearchParams({ key: processor.publishableKey, 'card[number]': '4000000000000002', 'card[exp_month]': '1', 'card[exp_year]': String(YEAR), 'card[cvc]': '123' }),
        });
        expect(res.status).toBe(200);
        expect(res.headers.get('access-control-allow-origin')).toBe('*');
        expect(await res.json()).toMatchObject({ object: 'token', card: { last4: '0002' } });
      });
    });

    describe('keys and bad requests', () => {
      it('when no key, a wrong key or the publishable key calls the server API, then 401 in Stripe shape', async () => {
        expect(await failure(sdk('sk_test_wrong', processor.url).paymentIntents.retrieve('pi_x'))).toMatchObject({ statusCode: 401, type: 'StripeAuthenticationError' });
        expect(await failure(authorizeWith(browser))).toMatchObject({ statusCode: 401, message: expect.stringContaining('publishable') });
        const bare = await fetch(`${processor.url}/v1/payment_intents`, { method: 'POST' });
        expect(bare.status).toBe(401);
        expect(await bare.json()).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringContaining('API key') } });
      });
      const authorizeWith = (client: Stripe) => client.paymentIntents.create({ amount: 100, currency: 'eur', confirm: true });

      it('when JSON is sent or a path is unknown, then 400/404 in Stripe shape', async () => {
        const json = await fetch(`${processor.url}/v1/payment_intents`, { method: 'POST', headers: { authorization: `Bearer ${processor.secretKey}`, 'content-type': 'application/json' }, body: '{}' });
        expect(json.status).toBe(400);
        expect(((await json.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
        const unknown = await fetch(`${processor.url}/v1/charges`, { headers: { authorization: `Bearer ${processor.secretKey}` } });
        expect(unknown.status).toBe(404);
        expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain('Unrecognized request URL');
      });

      it('when the amount or currency is missing or bad, then 400 names the parameter', async () => {
        expect(await failure(server.paymentIntents.create({ amount: -5, currency: 'eur', confirm: true, payment_method_data: { type: 'card', card: { token: 'tok_success' } } as never }))).toMatchObject({
          statusCode: 400,
          param: 'amount',
        });
        expect(await failure(server.paymentIntents.create({ amount: 100 } as Stripe.PaymentIntentCreateParams))).toMatchObject({ statusCode: 400, code: 'parameter_missing', param: 'currency' });
      });

      it('when a payment intent does not exist, then 404 resource_missing', async () => {
        expect(await failure(server.paymentIntents.retrieve('pi_missing'))).toMatchObject({ statusCode: 404, code: 'resource_missing', param: 'intent' });
      });
    });

    describe('authorization and its declines', () => {
      it('when the success card authorizes with manual capture, then the intent waits for capture and can be read back', async () => {
        const pi = await authorize(await tokenize('4242424242424242'));
        expect(pi).toMatchObject({ id: expect.stringMatching(/^pi_/), object: 'payment_intent', status: 'requires_capture', amount: 5000, amount_capturable: 5000, currency: 'eur', capture_method: 'manual', metadata: { payment_id: 'pay_1' } });
        expect(await server.paymentIntents.retrieve(pi.id)).toEqual(pi);
      });

      it.each([
        ['4000000000000002', 'tok_declined', 'card_declined', 'generic_decline'],
        ['4000000000009995', 'tok_insufficient_funds', 'card_declined', 'insufficient_funds'],
        ['4000000000000069', 'tok_expired_card', 'expired_card', 'expired_card'],
      ])('when card %s (or %s) is used, then 402 card_error %s / %s with the failed intent', async (number, fixed, code, declineCode) => {
        for (const token of [await tokenize(number), fixed]) {
          const error = await failure(authorize(token));
          expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
          expect(error).toMatchObject({ statusCode: 402, code, decline_code: declineCode });
          expect(error.payment_intent).toMatchObject({ status: 'requires_payment_method', last_payment_error: { code } });
        }
      });

      it('when the token was never issued, then 400 resource_missing names the token parameter', async () => {
        expect(await failure(authorize('tok_never_issued'))).toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'payment_method_data[card][token]' });
      });

      it('when an authorization is retried with the same Idempotency-Key, then the same intent comes back; with other parameters, an idempotency error', async () => {
        const key = `authorize-${Date.now()}`;
        const first = await authorize('tok_success', 1200, { idempotencyKey: key });
        const again = await server.paymentIntents.create(
          { amount: 1200, currency: 'eur', capture_method: 'manual', confirm: true, payment_method_data: { type: 'card', card: { token: 'tok_success' } } as never, metadata: { payment_id: 'pay_1' } },
          { idempotencyKey: key },
        );
        expect(again.id).toBe(first.id);
        expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
        expect(await failure(authorize('tok_success', 1300, { idempotencyKey: key }))).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
        const declineKey = `decline-${Date.now()}`;
        const declined = await failure(authorize('tok_declined', 1200, { idempotencyKey: declineKey }));
        const declinedAgain = await failure(authorize('tok_declined', 1200, { idempotencyKey: declineKey }));
        expect((declinedAgain.payment_intent as { id: string }).id).toBe((declined.payment_intent as { id: string }).id);
      });

      it('when eight requests send one Idempotency-Key at once, then one intent is created and each answer is it or 409 idempotency_key_in_use', async () => {
        const key = `together-${Date.now()}`;
        const answers = await Promise.allSettled(Array.from({ length: 8 }, () => authorize('tok_success', 6543, { idempotencyKey: key })));
        const ids = new Set(answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value.id] : [])));
        for (const a of answers) {
          if (a.status === 'rejected') expect(a.reason).toMatchObject({ statusCode: 409, code: 'idempotency_key_in_use' });
        }
        expect(ids.size).toBe(1);
        const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM payment_intents WHERE amount = 6543');
        expect(rows[0]!.n).toBe(1);
        const stored = await db.query<{ status: number }>('SELECT status FROM idempotency_keys WHERE key = $1', [key]);
        expect(stored.rows).toEqual([{ status: 200 }]);
      });

      it('when a key was claimed by a request that is no longer running, then a retry with it runs at once instead of 409', async () => {
        // What a request that crashed between its claim and its answer left behind when claims were
        // committed ahead of the work. Now the claim commits with the work, or not at all.
        const key = `orphaned-${Date.now()}`;
        await db.query('INSERT INTO idempotency_keys (key, request_hash) VALUES ($1, $2)', [key, 'from-a-crashed-request']);
        const pi = await authorize('tok_success', 6544, { idempotencyKey: key });
        expect(pi).toMatchObject({ status: 'requires_capture', amount: 6544 });
        expect((await authorize('tok_success', 6544, { idempotencyKey: key })).id).toBe(pi.id);
      });

      it('when a request fails on bad parameters, then its key is not kept and the same key with good parameters runs', async () => {
        const key = `bad-then-good-${Date.now()}`;
        expect(await failure(server.paymentIntents.create({ amount: 6545, currency: 'euro', confirm: true } as never, { idempotencyKey: key }))).toMatchObject({ statusCode: 400 });
        const { rows } = await db.query('SELECT 1 FROM idempotency_keys WHERE key = $1', [key]);
        expect(rows).toEqual([]);
      });
    });

    describe('capture, cancel and refund', () => {
      it('when part is captured, then the intent succeeds with that amount and cannot be captured again', async () => {
        const pi = await authorize('tok_success', 7300);
        const captured = await server.paymentIntents.capture(pi.id, { amount_to_capture: 7000 });
        expect(captured).toMatchObject({ status: 'succeeded', amount_received: 7000, amount_capturable: 0 });
        expect(await failure(server.paymentIntents.capture(pi.id))).toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });
      });

      it('when more than authorized is captured, then 400 amount_too_large', async () => {
        const pi = await authorize('tok_success', 100);
        expect(await failure(server.paymentIntents.capture(pi.id, { amount_to_capture: 101 }))).toMatchObject({ code: 'amount_too_large', param: 'amount_to_capture' });
      });

      it('when tok_capture_fails is captured, then 402 capture_declined, and the authorization can still be canceled', async () => {
        const pi = await authorize('tok_capture_fails');
        expect(pi.status).toBe('requires_capture');
        expect(await failure(server.paymentIntents.capture(pi.id))).toMatchObject({ statusCode: 402, decline_code: 'capture_declined', message: 'The card issuer declined the capture.' });
        expect(await server.paymentIntents.cancel(pi.id)).toMatchObject({ status: 'canceled' });
      });

      it('when an authorization is canceled, then it cannot be captured nor canceled again', async () => {
        const pi = await authorize('tok_success');
        expect(await server.paymentIntents.cancel(pi.id, { cancellation_reason: 'abandoned' })).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned', amount_capturable: 0 });
        expect(await failure(server.paymentIntents.capture(pi.id))).toMatchObject({ code: 'payment_intent_unexpected_state' });
        expect(await failure(server.paymentIntents.cancel(pi.id))).toMatchObject({ code: 'payment_intent_unexpected_state' });
      });

      it('when refunds are made: part, too much, the rest, again → re_…, amount_too_large, re_…, charge_already_refunded; retried with its key, once', async () => {
        const pi = await authorize('tok_success', 10_000);
        await server.paymentIntents.capture(pi.id);
        const part = await server.refunds.create({ payment_intent: pi.id, amount: 2500 }, { idempotencyKey: `refund-${pi.id}` });
        expect(part).toMatchObject({ id: expect.stringMatching(/^re_/), object: 'refund', amount: 2500, payment_intent: pi.id, status: 'succeeded', currency: 'eur' });
        expect((await server.refunds.create({ payment_intent: pi.id, amount: 2500 }, { idempotencyKey: `refund-${pi.id}` })).id).toBe(part.id);
        expect(await failure(server.refunds.create({ payment_intent: pi.id, amount: 7501 }))).toMatchObject({ statusCode: 400, code: 'amount_too_large', param: 'amount' });
        expect(await server.refunds.create({ payment_intent: pi.id })).toMatchObject({ amount: 7500 });
        expect(await failure(server.refunds.create({ payment_intent: pi.id, amount: 1 }))).toMatchObject({ code: 'charge_already_refunded' });
      });

      it('when an authorization is refunded before capture, then 400', async () => {
        const pi = await authorize('tok_success');
        expect(await failure(server.refunds.create({ payment_intent: pi.id }))).toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });
      });
    });

    describe('authorization lifetime and restarts', () => {
      it('when an authorization is not captured within its lifetime, then it lapses (canceled, automatic) and capture fails', async () => {
        const pi = await authorize('tok_success');
        shiftMs = LIFETIME_MS + 1000;
        try {
          expect(await server.paymentIntents.retrieve(pi.id)).toMatchObject({ status: 'canceled', cancellation_reason: 'automatic' });
          const error = await failure(server.paymentIntents.capture(pi.id));
          expect(error).toMatchObject({ code: 'payment_intent_unexpected_state', payment_intent: { status: 'canceled', cancellation_reason: 'automatic' } });
        } finally {
          shiftMs = 0;
        }
      });

      it('when the processor restarts on the same database, then its intents, tokens and keys are still there', async () => {
        const token = await tokenize('4000000000009995');
        const pi = await authorize('tok_success', 999, { idempotencyKey: 'survives-restart' });
        await processor.stop();
        await start();
        expect(await server.paymentIntents.retrieve(pi.id)).toMatchObject({ status: 'requires_capture', amount: 999 });
        expect((await authorize('tok_success', 999, { idempotencyKey: 'survives-restart' })).id).toBe(pi.id);
        expect(await failure(authorize(token))).toMatchObject({ decline_code: 'insufficient_funds' });
        expect((await fetch(`${processor.url}/health/ready`)).status).toBe(200);
        expect((await fetch(`${processor.url}/health/live`)).status).toBe(200);
      });
    });
  });
}

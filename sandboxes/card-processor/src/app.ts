import { createHash } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger, Sql } from '@emporium/platform';
import { brandOf, isExpired, isLuhnValid, outcomeOfCard, TEST_TOKENS, type Outcome } from './cards';
import { cardError, invalidParam, invalidRequest, missingParam, noSuch, StripeFailure, unauthorized, type StripeErrorBody } from './errors';
import { FormError, paramNames, parseForm, type FormObject } from './form';
import { newId, type IntentRow, type ProcessorStore, type RefundRow, type TokenRow } from './store';

export interface CardProcessorAppOptions {
  store: ProcessorStore;
  logger: Logger;
  publishableKey: string;
  secretKey: string;
  /** How long an uncaptured authorization holds before it lapses (canceled, reason `automatic`). */
  authorizationLifetimeMs: number;
  clock: () => Date;
}

type Access = 'secret' | 'publishable';
interface Answer {
  status: number;
  body: unknown;
}

const seconds = (date: Date | null) => (date ? Math.floor(date.getTime() / 1000) : null);

const DECLINES: Record<Exclude<Outcome, 'success' | 'capture_fails'>, { code: string; decline_code: string; message: string; param?: string }> = {
  card_declined: { code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.' },
  insufficient_funds: { code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  expired_card: { code: 'expired_card', decline_code: 'expired_card', message: 'Your card has expired.', param: 'exp_month' },
};

const CANCELABLE = ['requires_payment_method', 'requires_capture'];
const CANCELLATION_REASONS = ['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned'];

const tokenObject = (t: TokenRow) => ({
  id: t.id,
  object: 'token',
  card: {
    id: t.card_id,
    object: 'card',
    brand: t.brand,
    country: 'US',
    cvc_check: 'unchecked',
    exp_month: t.exp_month,
    exp_year: t.exp_year,
    funding: 'credit',
    last4: t.last4,
    metadata: {},
  },
  client_ip: null,
  created: seconds(t.created_at),
  livemode: false,
  type: 'card',
  used: false,
});

const intentObject = (pi: IntentRow) => ({
  id: pi.id,
  object: 'payment_intent',
  amount: pi.amount,
  amount_capturable: pi.amount_capturable,
  amount_received: pi.amount_received,
  canceled_at: seconds(pi.canceled_at),
  cancellation_reason: pi.cancellation_reason,
  capture_method: pi.capture_method,
  client_secret: pi.client_secret,
  confirmation_method: 'automatic',
  created: seconds(pi.created_at),
  currency: pi.currency,
  description: null,
  last_payment_error: pi.last_payment_error,
  latest_charge: pi.latest_charge,
  livemode: false,
  metadata: pi.metadata,
  payment_method: pi.payment_method,
  payment_method_types: ['card'],
  status: pi.status,
});

const refundObject = (r: RefundRow) => ({
  id: r.id,
  object: 'refund',
  amount: r.amount,
  charge: r.charge,
  created: seconds(r.created_at),
  currency: r.currency,
  metadata: {},
  payment_intent: r.payment_intent,
  reason: r.reason,
  status: 'succeeded',
});

/** Rejects any parameter outside `allowed` (exact names, or prefixes ending in `[`), as Stripe does. */
function onlyParams(form: FormObject, allowed: readonly string[]): void {
  for (const name of paramNames(form)) {
    if (!allowed.some((a) => (a.endsWith('[') ? name.startsWith(a) : name === a))) {
      throw invalidRequest('parameter_unknown', `Received unknown parameter: ${name}`, name);
    }
  }
}

const str = (form: FormObject, name: string): string | undefined => {
  const value = form[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidParam(name, `Invalid string: ${name} must be a string`, 'parameter_invalid_string');
  return value;
};

const positiveInteger = (value: string | undefined, param: string): number | undefined => {
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1) throw invalidParam(param, `Invalid integer: ${value}`, 'parameter_invalid_integer');
  return Number(value);
};

/**
 * The card processor as an HTTP server speaking Stripe's REST API v1 (the subset payments uses):
 * form-encoded bodies, Bearer keys, Stripe's objects, errors and Idempotency-Key semantics.
 */
export async function buildCardProcessorApp(options: CardProcessorAppOptions): Promise<FastifyInstance> {
  const { store, clock } = options;
  const app = Fastify({ loggerInstance: options.logger as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), bodyLimit: 64 * 1024 }) as unknown as FastifyInstance;
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseForm(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header('request-id', newId('req'));
    // The storefront posts card details straight from the browser to tokenization, from another origin.
    if (request.url.split('?')[0] === '/v1/tokens') {
      reply.header('access-control-allow-origin', '*');
      reply.header('access-control-allow-methods', 'POST, OPTIONS');
      reply.header('access-control-allow-headers', 'Authorization, Content-Type, Idempotency-Key, Stripe-Version');
      reply.header('access-control-max-age', '600');
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    // Method, route and status only: a token request's body carries a card.
    options.logger.debug({ method: request.method, route: request.routeOptions.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  app.setErrorHandler(async (error: Error & { statusCode?: number; code?: string }, _request, reply) => {
    if (error instanceof StripeFailure) return reply.code(error.status).send({ error: error.body });
    if (error instanceof FormError) return reply.code(400).send({ error: { type: 'invalid_request_error', code: 'parameter_invalid_string', message: error.message, param: error.param } });
    if (error.statusCode && error.statusCode < 500) {
      const message = error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'Request bodies must be application/x-www-form-urlencoded.' : error.message;
      return reply.code(error.statusCode === 415 ? 400 : error.statusCode).send({ error: { type: 'invalid_request_error', message } });
    }
    options.logger.error({ err: error }, 'card processor request failed');
    return reply.code(500).send({ error: { type: 'api_error', message: 'An unknown error occurred.' } });
  });
  app.setNotFoundHandler(async (request, reply) =>
    reply.code(404).send({ error: { type: 'invalid_request_error', message: `Unrecognized request URL (${request.method}: ${request.url.split('?')[0]}).` } }),
  );

  const authenticate = (request: FastifyRequest, form: FormObject, access: Access): void => {
    const header = request.headers.authorization ?? '';
    let key: string | undefined;
    if (header.startsWith('Bearer ')) key = header.slice(7).trim();
    else if (header.startsWith('Basic ')) key = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':')[0];
    else if (access === 'publishable' && typeof form.key === 'string') key = form.key;
    if (!key) {
      throw unauthorized("You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').");
    }
    if (key === options.secretKey || (access === 'publishable' && key === options.publishableKey)) return;
    if (key === options.publishableKey) throw unauthorized('This API call cannot be made with a publishable API key. Please use a secret API key.');
    throw unauthorized(`Invalid API Key provided: ${key.slice(0, 8)}${'*'.repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`);
  };

  /**
   * Runs a POST's work in one transaction with its Idempotency-Key: a replay answers what was stored;
   * the first request's answer is stored with its work, in the same commit. Like Stripe, bad parameters
   * and server errors are not remembered: their transaction rolls back, key and all, and a retry runs
   * again. A remembered error (a decline) commits what its work wrote (the declined intent).
   */
  const idempotent = (request: FastifyRequest, form: FormObject, work: (tx: Sql) => Promise<Answer>): Promise<Answer & { replayed?: boolean }> => {
    const key = request.headers['idempotency-key'];
    const keyed = typeof key === 'string' && key !== '';
    if (keyed && key.length > 255) throw invalidRequest('idempotency_key_in_use', 'Idempotency keys can be at most 255 characters long.');
    const hash = keyed ? createHash('sha256').update(JSON.stringify([request.method, request.routeOptions.url, request.params, form])).digest('hex') : '';
    return store.db.transaction(async (tx) => {
      if (keyed) {
        const claim = await store.claimKey(tx, key, hash);
        if (claim === 'busy') {
          throw new StripeFailure(409, {
            type: 'idempotency_error',
            code: 'idempotency_key_in_use',
            message: 'There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through). Please try again later.',
          });
        }
        if (claim !== 'claimed') {
          if (claim.request_hash !== hash) {
            throw new StripeFailure(400, {
              type: 'idempotency_error',
              message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
            });
          }
          return { status: claim.status, body: claim.body, replayed: true };
        }
      }
      let answer: Answer;
      try {
        answer = await work(tx);
      } catch (error) {
        if (!(error instanceof StripeFailure) || error.status >= 500 || error.body.code?.startsWith('parameter_')) throw error;
        answer = { status: error.status, body: { error: error.body } };
      }
      if (keyed) await store.recordKey(tx, key, answer.status, answer.body);
      return answer;
    });
  };

  const post = (url: string, access: Access, work: (form: FormObject, params: Record<string, string>, tx: Sql) => Promise<Answer>) =>
    app.post(url, async (request: FastifyRequest, reply: FastifyReply) => {
      const form = (request.body ?? {}) as FormObject;
      authenticate(request, form, access);
      const answer = await idempotent(request, form, (tx) => work(form, request.params as Record<string, string>, tx));
      if (answer.replayed) reply.header('idempotent-replayed', 'true');
      reply.header('idempotency-key', request.headers['idempotency-key']);
      return reply.code(answer.status).send(answer.body);
    });

  /** An authorization not captured within its lifetime lapses, like a processor's after about 7 days. */
  const lapsed = async (sql: Sql, pi: IntentRow): Promise<IntentRow> => {
    if (pi.status !== 'requires_capture' || clock().getTime() - pi.created_at.getTime() < options.authorizationLifetimeMs) return pi;
    return store.updateIntent(sql, pi, { status: 'canceled', cancellation_reason: 'automatic', canceled_at: clock(), amount_capturable: 0 });
  };

  const findIntent = async (sql: Sql, id: string, lock: boolean) => {
    const pi = await store.intent(sql, id, lock);
    if (!pi) throw noSuch('payment_intent', id, 'intent');
    return lapsed(sql, pi);
  };

  const unexpectedState = (pi: IntentRow, action: string) =>
    invalidRequest('payment_intent_unexpected_state', `This PaymentIntent could not be ${action} because it has a status of ${pi.status}.`, undefined, { payment_intent: intentObject(pi) });

  app.get('/health/live', async () => ({ status: 'ok' }));
  app.get('/health/ready', async (_request, reply) => {
    const ready = await store.db.isReady().catch(() => false);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ok' : 'unavailable', checks: { database: ready } });
  });

  app.options('/v1/tokens', async (_request, reply) => reply.code(204).send());

  post('/v1/tokens', 'publishable', async (form, _params, tx) => {
    const { key: _key, ...params } = form;
    onlyParams(params, ['card[number]', 'card[exp_month]', 'card[exp_year]', 'card[cvc]', 'card[name]']);
    const card = params.card;
    if (card === undefined) throw missingParam('card');
    if (typeof card === 'string') throw invalidParam('card', 'Invalid object: card must be an object', 'parameter_invalid_string');
    const number = str(card, 'number')?.replace(/[\s-]/g, '');
    const expMonth = str(card, 'exp_month');
    const expYear = str(card, 'exp_year');
    const cvc = str(card, 'cvc');
    if (number === undefined) throw missingParam('card[number]');
    if (expMonth === undefined) throw missingParam('card[exp_month]');
    if (expYear === undefined) throw missingParam('card[exp_year]');
    if (!/^\d{12,19}$/.test(number)) throw cardError('invalid_number', 'The card number is not a valid credit card number.', { param: 'number' });
    if (!isLuhnValid(number)) throw cardError('incorrect_number', 'Your card number is incorrect.', { param: 'number' });
    const month = Number(expMonth);
    if (!/^\d{1,2}$/.test(expMonth) || month < 1 || month > 12) throw cardError('invalid_expiry_month', "Your card's expiration month is invalid.", { param: 'exp_month' });
    if (!/^\d{2}$|^\d{4}$/.test(expYear)) throw cardError('invalid_expiry_year', "Your card's expiration year is invalid.", { param: 'exp_year' });
    const year = expYear.length === 2 ? 2000 + Number(expYear) : Number(expYear);
    const now = clock();
    if (year < now.getUTCFullYear()) throw cardError('invalid_expiry_year', "Your card's expiration year is invalid.", { param: 'exp_year' });
    if (isExpired(month, year, now)) throw cardError('invalid_expiry_month', "Your card's expiration month is invalid.", { param: 'exp_month' });
    if (cvc !== undefined && !/^\d{3,4}$/.test(cvc)) throw cardError('invalid_cvc', "Your card's security code is invalid.", { param: 'cvc' });
    // From here on the number survives only as brand and last 4; the CVC not at all.
    const token = await store.insertToken(
      tx,
      { id: newId('tok'), card_id: newId('card'), brand: brandOf(number), last4: number.slice(-4), exp_month: month, exp_year: year, outcome: outcomeOfCard(number) },
      now,
    );
    return { status: 200, body: tokenObject(token) };
  });

  post('/v1/payment_intents', 'secret', async (form, _params, tx) => {
    onlyParams(form, ['amount', 'currency', 'capture_method', 'confirm', 'description', 'payment_method_data[type]', 'payment_method_data[card][token]', 'metadata[']);
    const amountParam = str(form, 'amount');
    if (amountParam === undefined) throw missingParam('amount');
    const amount = positiveInteger(amountParam, 'amount')!;
    const currency = str(form, 'currency')?.toLowerCase();
    if (currency === undefined) throw missingParam('currency');
    if (!/^[a-z]{3}$/.test(currency)) throw invalidParam('currency', `Invalid currency: ${currency}.`, 'parameter_invalid_string');
    const captureMethod = str(form, 'capture_method') ?? 'automatic';
    if (captureMethod !== 'automatic' && captureMethod !== 'manual') {
      throw invalidParam('capture_method', `Invalid capture_method: must be one of automatic or manual`, 'parameter_invalid_string');
    }
    if (str(form, 'confirm') !== 'true') throw invalidParam('confirm', 'This sandbox creates PaymentIntents only with confirm=true and a card token.', 'parameter_missing');
    const pmd = form.payment_method_data;
    const card = typeof pmd === 'object' ? pmd.card : undefined;
    const tokenId = typeof card === 'object' ? str(card, 'token') : undefined;
    if (typeof pmd !== 'object' || pmd.type !== 'card') throw missingParam('payment_method_data[type]');
    if (!tokenId) throw missingParam('payment_method_data[card][token]');
    const metadata = typeof form.metadata === 'object' ? (form.metadata as Record<string, string>) : {};

    const now = clock();
    let outcome: Outcome | undefined = TEST_TOKENS[tokenId];
    if (!outcome) {
      const token = await store.token(tx, tokenId);
      if (!token) throw invalidRequest('resource_missing', `No such token: '${tokenId}'`, 'payment_method_data[card][token]');
      outcome = isExpired(token.exp_month, token.exp_year, now) ? 'expired_card' : token.outcome;
    }
    const id = newId('pi');
    const base = { id, amount, currency, capture_method: captureMethod, outcome, payment_method: newId('pm'), client_secret: `${id}_secret_${newId('s').slice(2)}`, metadata, created_at: now } as const;
    if (outcome === 'success' || outcome === 'capture_fails') {
      const manual = captureMethod === 'manual';
      const pi = await store.insertIntent(tx, {
        ...base,
        status: manual ? 'requires_capture' : 'succeeded',
        amount_capturable: manual ? amount : 0,
        amount_received: manual ? 0 : amount,
        latest_charge: newId('ch'),
        last_payment_error: null,
      });
      return { status: 200, body: intentObject(pi) };
    }
    const decline = DECLINES[outcome];
    const charge = newId('ch');
    const error: StripeErrorBody = { type: 'card_error', ...decline, charge, doc_url: `https://stripe.com/docs/error-codes/${decline.code.replace(/_/g, '-')}` };
    const pi = await store.insertIntent(tx, { ...base, status: 'requires_payment_method', amount_capturable: 0, amount_received: 0, latest_charge: charge, last_payment_error: error });
    throw new StripeFailure(402, { ...error, payment_intent: intentObject(pi) });
  });

  app.get('/v1/payment_intents/:id', async (request) => {
    authenticate(request, {}, 'secret');
    return intentObject(await findIntent(store.db, (request.params as { id: string }).id, false));
  });

  post('/v1/payment_intents/:id/capture', 'secret', async (form, { id }, tx) => {
    onlyParams(form, ['amount_to_capture', 'metadata[']);
    const requested = positiveInteger(str(form, 'amount_to_capture'), 'amount_to_capture');
    const pi = await findIntent(tx, id!, true);
    if (pi.status !== 'requires_capture') throw unexpectedState(pi, 'captured');
    const amount = requested ?? pi.amount_capturable;
    if (amount > pi.amount_capturable) {
      throw invalidRequest('amount_too_large', `The amount to capture (${amount}) is greater than the amount capturable (${pi.amount_capturable}).`, 'amount_to_capture');
    }
    if (pi.outcome === 'capture_fails') {
      throw cardError('card_declined', 'The card issuer declined the capture.', { decline_code: 'capture_declined', charge: pi.latest_charge ?? undefined, payment_intent: intentObject(pi) });
    }
    const captured = await store.updateIntent(tx, pi, { status: 'succeeded', amount_received: amount, amount_capturable: 0 });
    return { status: 200, body: intentObject(captured) };
  });

  post('/v1/payment_intents/:id/cancel', 'secret', async (form, { id }, tx) => {
    onlyParams(form, ['cancellation_reason']);
    const reason = str(form, 'cancellation_reason') ?? null;
    if (reason !== null && !CANCELLATION_REASONS.includes(reason)) {
      throw invalidParam('cancellation_reason', `Invalid cancellation_reason: must be one of ${CANCELLATION_REASONS.join(', ')}`, 'parameter_invalid_string');
    }
    const pi = await findIntent(tx, id!, true);
    if (!CANCELABLE.includes(pi.status)) {
      throw invalidRequest(
        'payment_intent_unexpected_state',
        `You cannot cancel this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.`,
        undefined,
        { payment_intent: intentObject(pi) },
      );
    }
    const canceled = await store.updateIntent(tx, pi, { status: 'canceled', cancellation_reason: reason, canceled_at: clock(), amount_capturable: 0 });
    return { status: 200, body: intentObject(canceled) };
  });

  post('/v1/refunds', 'secret', async (form, _params, tx) => {
    onlyParams(form, ['payment_intent', 'amount', 'reason', 'metadata[']);
    const intentId = str(form, 'payment_intent');
    if (!intentId) throw missingParam('payment_intent');
    const requested = positiveInteger(str(form, 'amount'), 'amount');
    const reason = str(form, 'reason') ?? null;
    const pi = await store.intent(tx, intentId, true);
    if (!pi) throw invalidRequest('resource_missing', `No such payment_intent: '${intentId}'`, 'payment_intent');
    if (pi.status !== 'succeeded' || !pi.latest_charge) {
      throw invalidRequest('payment_intent_unexpected_state', `This PaymentIntent (${pi.id}) does not have a successful charge to refund.`, 'payment_intent');
    }
    const refundable = pi.amount_received - pi.amount_refunded;
    if (refundable === 0) throw invalidRequest('charge_already_refunded', `Charge ${pi.latest_charge} has already been refunded.`);
    const amount = requested ?? refundable;
    if (amount > refundable) {
      throw invalidRequest('amount_too_large', `Refund amount (${amount}) is greater than unrefunded amount on charge (${refundable})`, 'amount');
    }
    await store.updateIntent(tx, pi, { amount_refunded: pi.amount_refunded + amount });
    const refund = await store.insertRefund(tx, { id: newId('re'), payment_intent: pi.id, charge: pi.latest_charge, amount, currency: pi.currency, reason, created_at: clock() });
    return { status: 200, body: refundObject(refund) };
  });

  return app;
}

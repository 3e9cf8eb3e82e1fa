import Stripe from 'stripe';
import type { DeclineCode } from '@emporium/contracts';
import { ProcessorConflict, type AuthorizeResult, type CaptureResult, type PaymentProvider, type ProviderFailure, type RefundResult, type VoidResult } from './provider';

export const STRIPE = 'stripe';

export interface StripeProviderOptions {
  /** Base URL of the processor's API: the sandbox's (`http://127.0.0.1:3108`) or `https://api.stripe.com`. */
  url: string;
  secretKey: string;
  /** Per request. Default 10 s. */
  timeoutMs?: number;
  /** The SDK's own retries of a failed connection or 5xx, with the same Idempotency-Key. Default 2. */
  maxNetworkRetries?: number;
}

const failed = (code: string, message: string): ProviderFailure => ({ status: 'failed', code, message });

/** Stripe's decline answers, in the words payments publishes (`payment_failed.code`). */
function declineCodeOf(error: Stripe.errors.StripeError): DeclineCode {
  if (error.code === 'expired_card' || error.decline_code === 'expired_card') return 'expired_card';
  if (error.decline_code === 'insufficient_funds') return 'insufficient_funds';
  return 'card_declined';
}

type Intent = { status?: string; cancellation_reason?: string | null; amount_received?: number } | undefined;

/** Connection errors, timeouts, 5xx, 429, bad keys: the processor is unavailable or misconfigured; the call is retried. */
const transient = (error: unknown, ref: string): Error =>
  error instanceof Stripe.errors.StripeIdempotencyError
    ? new ProcessorConflict(`another call on ${ref} holds the same idempotency key: ${error.message}`, { cause: error })
    : new Error(`card processor unavailable (${ref}): ${error instanceof Error ? error.message : String(error)}`, { cause: error });

/** What a refused call tells about the payment intent's state; anything else is thrown as transient. */
function refusal(error: unknown, ref: string): { intent: Intent; error: Stripe.errors.StripeError } {
  if (error instanceof Stripe.errors.StripeCardError || error instanceof Stripe.errors.StripeInvalidRequestError) {
    return { intent: error.payment_intent as Intent, error };
  }
  throw transient(error, ref);
}

const expired = (intent: Intent) => intent?.status === 'canceled' && intent.cancellation_reason === 'automatic';

/**
 * A card processor reached through the official `stripe` SDK: Stripe itself, or the project's
 * sandbox (`sandboxes/card-processor`), which speaks the same protocol. An authorization is a
 * PaymentIntent confirmed with `capture_method=manual`; void is its cancel; refunds are Refunds.
 */
export function createStripeProvider(options: StripeProviderOptions): PaymentProvider {
  const url = new URL(options.url);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  const stripe = new Stripe(options.secretKey, {
    host: url.hostname,
    port: Number(url.port || (protocol === 'http' ? 80 : 443)),
    protocol,
    maxNetworkRetries: options.maxNetworkRetries ?? 2,
    timeout: options.timeoutMs ?? 10_000,
    appInfo: { name: 'emporium-payments' },
  });
  const unknown = (ref: string) => failed('unknown_charge', `No payment intent ${ref}.`);

  return {
    name: STRIPE,

    async authorize({ paymentId, amount, currency, token, idempotencyKey }): Promise<AuthorizeResult> {
      try {
        const intent = await stripe.paymentIntents.create(
          {
            amount,
            currency: currency.toLowerCase(),
            capture_method: 'manual',
            confirm: true,
            payment_method_data: { type: 'card', card: { token } } as Stripe.PaymentIntentCreateParams.PaymentMethodData,
            metadata: { payment_id: paymentId },
          },
          { idempotencyKey },
        );
        if (intent.status === 'requires_capture') return { status: 'authorized', providerRef: intent.id };
        return { status: 'declined', code: 'card_declined', message: `The payment intent is ${intent.status}.` };
      } catch (error) {
        if (error instanceof Stripe.errors.StripeCardError) return { status: 'declined', code: declineCodeOf(error), message: error.message };
        if (error instanceof Stripe.errors.StripeInvalidRequestError && error.code === 'resource_missing') {
          return { status: 'declined', code: 'invalid_token', message: error.message };
        }
        // Any other refusal is a request we got wrong or a key problem: retried (and logged) until fixed.
        throw transient(error, paymentId);
      }
    },

    async capture({ providerRef, amount, idempotencyKey }): Promise<CaptureResult> {
      try {
        const intent = await stripe.paymentIntents.capture(providerRef, { amount_to_capture: amount }, { idempotencyKey });
        return { status: 'captured', amount: intent.amount_received };
      } catch (raw) {
        const { intent, error } = refusal(raw, providerRef);
        if (!intent && error.code === 'resource_missing') return unknown(providerRef);
        if (intent?.status === 'succeeded') return { status: 'captured', amount: intent.amount_received ?? amount };
        if (expired(intent)) return failed('authorization_expired', 'The authorization has expired.');
        if (intent?.status === 'canceled') return failed('charge_voided', 'The authorization was voided.');
        return failed(error.decline_code || error.code || 'capture_failed', error.message);
      }
    },

    async void({ providerRef, idempotencyKey }): Promise<VoidResult> {
      try {
        await stripe.paymentIntents.cancel(providerRef, {}, { idempotencyKey });
        return { status: 'voided' };
      } catch (raw) {
        const { intent, error } = refusal(raw, providerRef);
        if (!intent && error.code === 'resource_missing') return unknown(providerRef);
        if (intent?.status === 'canceled') return { status: 'voided' };
        if (intent?.status === 'succeeded') return failed('charge_captured', 'A captured charge cannot be voided; refund it.');
        return failed(error.code ?? 'void_failed', error.message);
      }
    },

    async refund({ providerRef, amount, idempotencyKey }): Promise<RefundResult> {
      try {
        const refund = await stripe.refunds.create({ payment_intent: providerRef, amount }, { idempotencyKey });
        return { status: 'refunded', amount: refund.amount, refundRef: refund.id };
      } catch (raw) {
        const { error } = refusal(raw, providerRef);
        if (error.code === 'resource_missing') return unknown(providerRef);
        if (error.code === 'payment_intent_unexpected_state') return failed('charge_not_captured', 'Only a captured charge can be refunded.');
        return failed(error.code ?? 'refund_failed', error.message);
      }
    },
  };
}

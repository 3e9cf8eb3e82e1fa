// HTTP bodies of the payments service.
import { z } from 'zod';
import { Currency, PaymentMethod } from '../common';

export const PaymentId = z.string().regex(/^[\w.:-]{1,64}$/, 'must be a payment id');

export const PaymentStatus = z.enum(['authorizing', 'authorized', 'declined', 'captured', 'voided', 'refunded', 'partially_refunded']);
export type PaymentStatus = z.infer<typeof PaymentStatus>;

/** Why a processor refused an authorization; the same codes travel on `payment_failed`. */
export const DeclineCode = z.enum(['card_declined', 'insufficient_funds', 'expired_card', 'invalid_token']);
export type DeclineCode = z.infer<typeof DeclineCode>;

export const PaymentTransaction = z
  .object({
    id: z.number().int(),
    kind: z.enum(['authorize', 'capture', 'void', 'refund']),
    amount: z.number().int(),
    outcome: z.enum(['succeeded', 'declined', 'failed']),
    code: z.string().nullable().describe('decline or failure code when the outcome is not `succeeded`'),
    providerRef: z.string().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: 'PaymentTransaction', description: 'One call to the payment provider (audit log)' });
export type PaymentTransaction = z.infer<typeof PaymentTransaction>;

/** A payment as clients see it: never any card data, only the provider's reference. */
export const Payment = z
  .object({
    id: z.string(),
    orderId: z.string(),
    customerId: z.string(),
    amount: z.number().int(),
    currency: Currency,
    method: PaymentMethod,
    provider: z.string(),
    providerRef: z.string().nullable(),
    status: PaymentStatus,
    declineCode: z.string().nullable(),
    failureReason: z.string().nullable(),
    capturedAmount: z.number().int(),
    refundedAmount: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
    transactions: z.array(PaymentTransaction),
  })
  .meta({ id: 'Payment' });
export type Payment = z.infer<typeof Payment>;

export const PaymentOfOrderQuery = z
  .object({ orderId: z.string().regex(/^[\w.:-]{1,64}$/, 'must be an order id') })
  .strict();

export const RefundPaymentRequest = z
  .object({
    amount: z.number().int().min(1).max(100_000_000_00).optional().describe('minor units; default: everything captured and not yet refunded'),
    reason: z.string().trim().min(1).max(500),
  })
  .strict();
export type RefundPaymentRequest = z.infer<typeof RefundPaymentRequest>;

// Card details are not a contract of ours: the storefront sends them straight to the card processor's
// tokenization (Stripe API `POST /v1/tokens`, the sandbox in sandboxes/card-processor) and hands
// payments only the token it gets back (`payment_token` on the order).

import type { DeclineCode } from '@emporium/contracts';

/**
 * What the payments service needs from a card processor. Every method resolves to a result —
 * including business refusals — and throws only for transient failures (network, timeouts,
 * the processor down), which the caller retries with the same idempotency key.
 * Amounts are integer minor units. Providers are remote: never call one inside a database
 * transaction (see `provider-calls.ts`).
 */
export interface PaymentProvider {
  /** Stored on each payment, e.g. `stripe`. */
  readonly name: string;
  authorize(request: AuthorizeRequest): Promise<AuthorizeResult>;
  capture(request: { providerRef: string; amount: number; idempotencyKey: string }): Promise<CaptureResult>;
  void(request: { providerRef: string; idempotencyKey: string }): Promise<VoidResult>;
  refund(request: { providerRef: string; amount: number; idempotencyKey: string }): Promise<RefundResult>;
}

export interface AuthorizeRequest {
  paymentId: string;
  amount: number;
  currency: string;
  /** The processor's card token; the card itself never reaches this service. */
  token: string;
  /** The same key on a retry returns the first answer instead of authorizing twice. */
  idempotencyKey: string;
}

export type AuthorizeResult =
  | { status: 'authorized'; providerRef: string }
  | { status: 'declined'; code: DeclineCode; message: string };

/** A refusal of capture, void or refund (unknown charge, amount too large, wrong state). */
export interface ProviderFailure {
  status: 'failed';
  code: string;
  message: string;
}

export type CaptureResult = { status: 'captured'; amount: number } | ProviderFailure;
export type VoidResult = { status: 'voided' } | ProviderFailure;
export type RefundResult = { status: 'refunded'; amount: number; refundRef: string } | ProviderFailure;

/**
 * The processor is busy with, or already answered differently to, a request under the same
 * idempotency key: another call on the same payment is racing this one. Nothing was done twice;
 * the caller should retry once the other call has finished.
 */
export class ProcessorConflict extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProcessorConflict';
  }
}

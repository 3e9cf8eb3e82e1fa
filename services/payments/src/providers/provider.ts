import type { DeclineCode } from '@emporium/contracts';
import type { Sql } from '@emporium/platform';

/**
 * What the payments service needs from a card processor. Every method resolves to a result —
 * including business refusals — and throws only for transient failures (network, timeouts),
 * which the caller retries. Amounts are integer minor units.
 */
export interface PaymentProvider {
  /** Stored on each payment, e.g. `sandbox`, `stripe`. */
  readonly name: string;
  authorize(request: AuthorizeRequest): Promise<AuthorizeResult>;
  capture(request: { providerRef: string; amount: number }): Promise<CaptureResult>;
  void(request: { providerRef: string }): Promise<VoidResult>;
  refund(request: { providerRef: string; amount: number }): Promise<RefundResult>;
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
 * Providers are built per unit of work: the in-project sandbox keeps its state in this
 * service's database and joins the caller's transaction; remote providers ignore `sql`.
 */
export type ProviderFactory = (sql: Sql) => PaymentProvider;

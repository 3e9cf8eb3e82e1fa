/** The error body Stripe answers with: `{ error: { type, code, decline_code?, message, param? } }`. */
export interface StripeErrorBody {
  type: 'card_error' | 'invalid_request_error' | 'idempotency_error' | 'api_error';
  code?: string;
  decline_code?: string;
  message: string;
  param?: string;
  payment_intent?: unknown;
  charge?: string;
  doc_url?: string;
}

export class StripeFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
  ) {
    super(body.message);
  }
}

const docUrl = (code?: string) => (code ? `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}` : undefined);

export const invalidRequest = (code: string, message: string, param?: string, extra: Partial<StripeErrorBody> = {}) =>
  new StripeFailure(400, { type: 'invalid_request_error', code, message, ...(param ? { param } : {}), doc_url: docUrl(code), ...extra });

export const cardError = (code: string, message: string, extra: Partial<StripeErrorBody> = {}) =>
  new StripeFailure(402, { type: 'card_error', code, message, doc_url: docUrl(code), ...extra });

export const missingParam = (param: string) => invalidRequest('parameter_missing', `Missing required param: ${param}.`, param);

export const invalidParam = (param: string, message: string, code = 'parameter_invalid_empty') => invalidRequest(code, message, param);

export const noSuch = (kind: string, id: string, param: string) =>
  new StripeFailure(404, { type: 'invalid_request_error', code: 'resource_missing', message: `No such ${kind}: '${id}'`, param, doc_url: docUrl('resource_missing') });

export const unauthorized = (message: string) => new StripeFailure(401, { type: 'invalid_request_error', message });

/**
 * Card tokenization with the payment processor, never through our services: the card number
 * goes from the browser to the processor (Stripe's REST protocol, `POST /v1/tokens`) and only the
 * token comes back to us.
 */
export interface ProcessorConfig {
  url: string;
  publishableKey: string;
}

export interface CardDetails {
  number: string;
  expMonth: number;
  expYear: number;
  cvc: string;
}

export interface CardToken {
  id: string;
  card: { brand: string; last4: string; exp_month: number; exp_year: number };
}

/** A refusal by the processor; `field` is the form field it is about, when it names one. */
export class CardError extends Error {
  readonly code: string;
  readonly field: keyof CardDetails | undefined;
  constructor(message: string, code: string, field?: keyof CardDetails) {
    super(message);
    this.name = 'CardError';
    this.code = code;
    this.field = field;
  }
}

const FIELD_OF_PARAM: Record<string, keyof CardDetails> = {
  'card[number]': 'number',
  number: 'number',
  'card[exp_month]': 'expMonth',
  exp_month: 'expMonth',
  'card[exp_year]': 'expYear',
  exp_year: 'expYear',
  'card[cvc]': 'cvc',
  cvc: 'cvc',
};

const FIELD_OF_CODE: Record<string, keyof CardDetails> = {
  incorrect_number: 'number',
  invalid_number: 'number',
  invalid_expiry_month: 'expMonth',
  invalid_expiry_year: 'expYear',
  expired_card: 'expYear',
  invalid_cvc: 'cvc',
  incorrect_cvc: 'cvc',
};

export async function tokenizeCard(config: ProcessorConfig, card: CardDetails, fetchImpl: typeof fetch = fetch): Promise<CardToken> {
  const body = new URLSearchParams({
    'card[number]': card.number.replace(/[\s-]/g, ''),
    'card[exp_month]': String(card.expMonth),
    'card[exp_year]': String(card.expYear),
    'card[cvc]': card.cvc.trim(),
  });
  let res: Response;
  try {
    res = await fetchImpl(`${config.url.replace(/\/$/, '')}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${config.publishableKey}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
    });
  } catch {
    throw new CardError('The payment processor could not be reached. Your card was not charged; try again in a moment.', 'processor_unreachable');
  }
  const json = (await res.json().catch(() => undefined)) as (CardToken & { error?: { type?: string; code?: string; message?: string; param?: string } }) | undefined;
  if (res.ok && json?.id) return { id: json.id, card: json.card };
  const error = json?.error;
  const code = error?.code ?? error?.type ?? 'processor_error';
  const field = (error?.param && FIELD_OF_PARAM[error.param]) || FIELD_OF_CODE[code];
  throw new CardError(error?.message ?? `The payment processor refused the card (${res.status}).`, code, field);
}

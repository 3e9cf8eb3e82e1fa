import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for the sandbox card processor (`sandboxes/card-processor`), speaking the part of
 * Stripe's REST API the storefront uses: `POST /v1/tokens`. It answers with the payments service's
 * fixed sandbox tokens (`tok_success`, `tok_declined`, …) so the saga decides as it would with the
 * real sandbox. The browser tests use it only while the gateway has no `/storefront/config.json`.
 */
export interface StandInProcessor {
  url: string;
  publishableKey: string;
  tokenized: number;
  close(): Promise<void>;
}

const luhn = (digits: string) => {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1 && (d *= 2) > 9) d -= 9;
    sum += d;
  }
  return sum % 10 === 0;
};

const OUTCOMES: Record<string, string> = {
  '4000000000000002': 'tok_declined',
  '4000000000009995': 'tok_insufficient_funds',
  '4000000000000069': 'tok_expired_card',
};

export async function startStandInProcessor(): Promise<StandInProcessor> {
  const publishableKey = 'pk_test_storefront_browser_tests';
  const state = { tokenized: 0 };
  const server: Server = createServer((req, res) => {
    const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': 'authorization, content-type', 'access-control-allow-methods': 'POST, OPTIONS' };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, cors).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown) => res.writeHead(status, { ...cors, 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.method !== 'POST' || req.url !== '/v1/tokens') return send(404, { error: { type: 'invalid_request_error', message: 'Unrecognized request URL.' } });
      if (req.headers.authorization !== `Bearer ${publishableKey}`) return send(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided.' } });
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const number = form.get('card[number]') ?? '';
      const month = Number(form.get('card[exp_month]'));
      const year = Number(form.get('card[exp_year]'));
      if (!/^\d{12,19}$/.test(number) || !luhn(number)) return send(402, { error: { type: 'card_error', code: 'incorrect_number', message: 'Your card number is incorrect.', param: 'number' } });
      if (!(month >= 1 && month <= 12)) return send(402, { error: { type: 'card_error', code: 'invalid_expiry_month', message: "Your card's expiration month is invalid.", param: 'exp_month' } });
      if (!/^\d{3,4}$/.test(form.get('card[cvc]') ?? '')) return send(402, { error: { type: 'card_error', code: 'invalid_cvc', message: "Your card's security code is invalid.", param: 'cvc' } });
      state.tokenized++;
      send(200, { id: OUTCOMES[number] ?? 'tok_success', object: 'token', card: { brand: 'Visa', last4: number.slice(-4), exp_month: month, exp_year: year } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    publishableKey,
    get tokenized() {
      return state.tokenized;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

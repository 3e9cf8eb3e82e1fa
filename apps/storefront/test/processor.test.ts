import { describe, expect, it } from 'vitest';
import { CardError, tokenizeCard } from '../src/lib/processor';
import { luhnValid, parseExpiry, validateAddress, validateCard } from '../src/lib/checkout';

const config = { url: 'http://127.0.0.1:4999/', publishableKey: 'pk_test_abc' };
const card = { number: '4242 4242 4242 4242', expMonth: 12, expYear: 2030, cvc: '123' };

describe('card tokenization with the processor (Stripe protocol)', () => {
  it('when the card is good, then it is posted form-encoded with the publishable key and the token returned', async () => {
    let seen: { url: string; init: RequestInit } | undefined;
    const fetchImpl = (async (url: string, init: RequestInit) => {
      seen = { url, init };
      return new Response(JSON.stringify({ id: 'tok_abc', card: { brand: 'Visa', last4: '4242', exp_month: 12, exp_year: 2030 } }), { status: 200 });
    }) as typeof fetch;
    const token = await tokenizeCard(config, card, fetchImpl);
    expect(token.id).toBe('tok_abc');
    expect(seen!.url).toBe('http://127.0.0.1:4999/v1/tokens');
    const headers = new Headers(seen!.init.headers);
    expect(headers.get('authorization')).toBe('Bearer pk_test_abc');
    expect(headers.get('content-type')).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(String(seen!.init.body)))).toEqual({ 'card[number]': '4242424242424242', 'card[exp_month]': '12', 'card[exp_year]': '2030', 'card[cvc]': '123' });
  });

  it('when the processor refuses a field, then the error names the form field and keeps its message', async () => {
    const fetchImpl = (async () => new Response(JSON.stringify({ error: { type: 'card_error', code: 'incorrect_number', message: 'Your card number is incorrect.', param: 'card[number]' } }), { status: 402 })) as typeof fetch;
    const error = (await tokenizeCard(config, card, fetchImpl).catch((e: unknown) => e)) as CardError;
    expect(error).toBeInstanceOf(CardError);
    expect(error).toMatchObject({ code: 'incorrect_number', field: 'number', message: 'Your card number is incorrect.' });
  });

  it('when the processor cannot be reached, then the shopper is told nothing was charged', async () => {
    const fetchImpl = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    await expect(tokenizeCard(config, card, fetchImpl)).rejects.toMatchObject({ code: 'processor_unreachable', message: expect.stringContaining('not charged') });
  });
});

describe('checkout form checks', () => {
  it('when card numbers are checked, then Luhn decides', () => {
    expect(luhnValid('4242424242424242')).toBe(true);
    expect(luhnValid('4000000000000002')).toBe(true);
    expect(luhnValid('4242424242424241')).toBe(false);
  });

  it('when an expiry is typed, then MM/YY and MM/YYYY are read; nonsense is not', () => {
    expect(parseExpiry('04/29')).toEqual({ month: 4, year: 2029 });
    expect(parseExpiry(' 4 / 2031 ')).toEqual({ month: 4, year: 2031 });
    expect(parseExpiry('13/29')).toBeUndefined();
    expect(parseExpiry('0429')).toBeUndefined();
  });

  it('when a card form is wrong, then each field says what to fix', () => {
    const now = new Date('2026-12-01T00:00:00Z');
    expect(validateCard({ number: '4242 4242 4242 4242', expiry: '12/26', cvc: '123' }, now)).toEqual({});
    expect(validateCard({ number: '1234', expiry: '11/26', cvc: '1' }, now)).toEqual({
      number: expect.stringContaining('digits'),
      expiry: 'This card has expired.',
      cvc: expect.stringContaining('security code'),
    });
  });

  it('when an address is incomplete, then the missing fields are named; line 2 is optional', () => {
    expect(validateAddress({ name: 'Ann', line1: '1 Main St', line2: '', city: 'Dublin', postalCode: 'D01', country: 'IE' })).toEqual({});
    expect(Object.keys(validateAddress({ name: '', line1: '', line2: '', city: '', postalCode: '', country: '' })).sort()).toEqual(['city', 'country', 'line1', 'name', 'postalCode']);
  });
});

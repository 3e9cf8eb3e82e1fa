import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { brandOf, isExpired, isLuhnValid, outcomeOfCard, TEST_CARDS, TEST_TOKENS } from '../src/cards';

/** Appends the Luhn check digit that makes `body` a valid card number. */
const withCheckDigit = (body: string): string => {
  for (let d = 0; d <= 9; d++) if (isLuhnValid(body + d)) return body + d;
  throw new Error('unreachable');
};

const digits = (min: number, max: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((a) => a.join(''));

describe('Luhn check', () => {
  it('when numbers are well-known test cards, then they pass; when one digit changes, then they fail', () => {
    expect(isLuhnValid('4242424242424242')).toBe(true);
    expect(isLuhnValid('79927398713')).toBe(true);
    expect(isLuhnValid('4242424242424241')).toBe(false);
    expect(isLuhnValid('79927398710')).toBe(false);
    expect(isLuhnValid('')).toBe(false);
    expect(isLuhnValid('4242x')).toBe(false);
  });

  it('when any number gets its check digit, then it passes, and changing any single digit makes it fail', () => {
    fc.assert(
      fc.property(digits(11, 18), fc.nat(), fc.integer({ min: 1, max: 9 }), (body, at, delta) => {
        const number = withCheckDigit(body);
        expect(isLuhnValid(number)).toBe(true);
        const i = at % number.length;
        const changed = number.slice(0, i) + ((Number(number[i]) + delta) % 10) + number.slice(i + 1);
        expect(isLuhnValid(changed)).toBe(false);
      }),
    );
  });
});

describe('card brand and expiry', () => {
  it('when a number starts with a network prefix, then the brand is named', () => {
    expect(brandOf('4242424242424242')).toBe('Visa');
    expect(brandOf('5555555555554444')).toBe('MasterCard');
    expect(brandOf('2223003122003222')).toBe('MasterCard');
    expect(brandOf('378282246310005')).toBe('American Express');
    expect(brandOf('6011111111111117')).toBe('Discover');
    expect(brandOf('9999999999999995')).toBe('Unknown');
  });

  it('when the expiry month is the current one, then the card is still valid until the month ends', () => {
    const now = new Date('2026-03-31T23:59:59Z');
    expect(isExpired(3, 2026, now)).toBe(false);
    expect(isExpired(2, 2026, now)).toBe(true);
    expect(isExpired(12, 2025, now)).toBe(true);
    expect(isExpired(1, 2027, now)).toBe(false);
  });
});

describe('sandbox outcome table', () => {
  it('when the documented test cards are used, then each gives its outcome, and every one is Luhn-valid', () => {
    expect(TEST_CARDS).toEqual({
      '4242424242424242': 'success',
      '4000000000000002': 'card_declined',
      '4000000000009995': 'insufficient_funds',
      '4000000000000069': 'expired_card',
    });
    for (const [number, outcome] of Object.entries(TEST_CARDS)) {
      expect(isLuhnValid(number), number).toBe(true);
      expect(outcomeOfCard(number)).toBe(outcome);
    }
  });

  it('when any other Luhn-valid number is used, then it succeeds', () => {
    fc.assert(
      fc.property(digits(11, 18), (body) => {
        const number = withCheckDigit(body);
        fc.pre(!(number in TEST_CARDS));
        expect(outcomeOfCard(number)).toBe('success');
      }),
    );
  });

  it('when the documented ready-made tokens are looked up, then each has its outcome', () => {
    expect(TEST_TOKENS).toMatchObject({
      tok_success: 'success',
      tok_declined: 'card_declined',
      tok_insufficient_funds: 'insufficient_funds',
      tok_expired_card: 'expired_card',
      tok_capture_fails: 'capture_fails',
    });
  });
});

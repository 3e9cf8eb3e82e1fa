/** What a card does when a payment is confirmed with it; fixed by its number or token. */
export type Outcome = 'success' | 'card_declined' | 'insufficient_funds' | 'expired_card' | 'capture_fails';

/** Test card numbers; any other Luhn-valid number succeeds. */
export const TEST_CARDS: Readonly<Record<string, Outcome>> = {
  '4242424242424242': 'success',
  '4000000000000002': 'card_declined',
  '4000000000009995': 'insufficient_funds',
  '4000000000000069': 'expired_card',
};

/** Ready-made tokens that need no tokenization call; Stripe's own test tokens are aliases. */
export const TEST_TOKENS: Readonly<Record<string, Outcome>> = {
  tok_success: 'success',
  tok_declined: 'card_declined',
  tok_insufficient_funds: 'insufficient_funds',
  tok_expired_card: 'expired_card',
  tok_capture_fails: 'capture_fails',
  tok_visa: 'success',
  tok_chargeDeclined: 'card_declined',
  tok_chargeDeclinedInsufficientFunds: 'insufficient_funds',
  tok_chargeDeclinedExpiredCard: 'expired_card',
};

export const outcomeOfCard = (digits: string): Outcome => TEST_CARDS[digits] ?? 'success';

/** The Luhn (mod 10) check every card number passes. */
export function isLuhnValid(digits: string): boolean {
  if (!/^\d{2,}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Card network by number prefix (IIN ranges), spelled as Stripe's token objects spell it. */
export function brandOf(digits: string): 'Visa' | 'MasterCard' | 'American Express' | 'Discover' | 'Unknown' {
  if (/^4/.test(digits)) return 'Visa';
  if (/^(5[1-5]|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720)/.test(digits)) return 'MasterCard';
  if (/^3[47]/.test(digits)) return 'American Express';
  if (/^(6011|65|64[4-9])/.test(digits)) return 'Discover';
  return 'Unknown';
}

/** A card is valid through the last day of its expiry month (UTC). */
export function isExpired(expMonth: number, expYear: number, now: Date): boolean {
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth() + 1;
  return expYear < year || (expYear === year && expMonth < month);
}

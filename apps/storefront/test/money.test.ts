import { describe, expect, it } from 'vitest';
import { formatMoney, minorDigits } from '../src/lib/money';

describe('money formatting', () => {
  it('when an amount is in cents, then it shows in euros with two decimals', () => {
    expect(formatMoney(4999, 'EUR', 'en-IE')).toBe('€49.99');
    expect(formatMoney(5, 'EUR', 'en-IE')).toBe('€0.05');
    expect(formatMoney(0, 'EUR', 'en-IE')).toBe('€0.00');
    expect(formatMoney(123456789, 'EUR', 'en-IE')).toBe('€1,234,567.89');
  });

  it('when the locale differs, then Intl places the symbol and separators', () => {
    expect(formatMoney(4999, 'EUR', 'de-DE').replace(/\s/g, ' ')).toBe('49,99 €');
  });

  it('when a currency has no minor unit or three, then the amount is scaled by its own digits', () => {
    expect(minorDigits('JPY')).toBe(0);
    expect(formatMoney(1500, 'JPY', 'en-US')).toBe('¥1,500');
    expect(minorDigits('BHD')).toBe(3);
    expect(formatMoney(1234, 'BHD', 'en-US')).toMatch(/1\.234/);
  });

  it('when an amount is negative (a discount), then the sign is kept', () => {
    expect(formatMoney(-499, 'EUR', 'en-IE')).toBe('-€4.99');
  });

  it('when amounts add up, then no float error appears (0.1 + 0.2)', () => {
    expect(formatMoney(10 + 20, 'EUR', 'en-IE')).toBe('€0.30');
  });
});

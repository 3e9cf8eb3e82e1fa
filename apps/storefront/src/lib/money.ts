/** Money travels as integer minor units with an ISO 4217 currency; only the display divides. */
export interface Money {
  amount: number;
  currency: string;
}

const formatters = new Map<string, Intl.NumberFormat>();

function formatterFor(currency: string, locale?: string): Intl.NumberFormat {
  const key = `${locale ?? ''}|${currency}`;
  let formatter = formatters.get(key);
  if (!formatter) {
    formatter = new Intl.NumberFormat(locale, { style: 'currency', currency });
    formatters.set(key, formatter);
  }
  return formatter;
}

/** How many minor units a currency has (EUR 2, JPY 0, BHD 3), as Intl knows it. */
export function minorDigits(currency: string): number {
  return formatterFor(currency, 'en').resolvedOptions().maximumFractionDigits ?? 2;
}

/** `formatMoney(4999, 'EUR', 'en-IE')` → "€49.99". Exact for integers: no float sums. */
export function formatMoney(amount: number, currency: string, locale?: string): string {
  const digits = minorDigits(currency);
  const sign = amount < 0 ? -1 : 1;
  const abs = Math.abs(Math.trunc(amount));
  const unit = 10 ** digits;
  const whole = Math.floor(abs / unit);
  const fraction = abs % unit;
  // A decimal string keeps the value exact before Intl formats it.
  const text = digits === 0 ? String(whole) : `${whole}.${String(fraction).padStart(digits, '0')}`;
  return formatterFor(currency, locale).format(sign * Number(text));
}

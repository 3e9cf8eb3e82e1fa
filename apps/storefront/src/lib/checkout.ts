/** Pure checkout helpers: what the forms check before anything is sent. */
export interface AddressForm {
  name: string;
  line1: string;
  line2: string;
  city: string;
  postalCode: string;
  country: string;
}

export interface CardForm {
  number: string;
  expiry: string;
  cvc: string;
}

export type Errors<T> = Partial<Record<keyof T, string>>;

export function validateAddress(a: AddressForm): Errors<AddressForm> {
  const errors: Errors<AddressForm> = {};
  if (!a.name.trim()) errors.name = 'Enter the name of the person receiving the parcel.';
  if (!a.line1.trim()) errors.line1 = 'Enter the street and number.';
  if (!a.city.trim()) errors.city = 'Enter the town or city.';
  if (!a.postalCode.trim()) errors.postalCode = 'Enter the postal code.';
  if (!/^[A-Z]{2}$/.test(a.country)) errors.country = 'Choose a country.';
  return errors;
}

/** Luhn checksum, as card networks define it. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** `"04/29"` or `"04/2029"` → month and four-digit year. */
export function parseExpiry(text: string): { month: number; year: number } | undefined {
  const match = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(text);
  if (!match) return undefined;
  const month = Number(match[1]);
  const year = match[2]!.length === 2 ? 2000 + Number(match[2]) : Number(match[2]);
  if (month < 1 || month > 12) return undefined;
  return { month, year };
}

export function validateCard(c: CardForm, now = new Date()): Errors<CardForm> {
  const errors: Errors<CardForm> = {};
  const digits = c.number.replace(/[\s-]/g, '');
  if (!/^\d{12,19}$/.test(digits)) errors.number = 'Enter the 12–19 digits of the card number.';
  else if (!luhnValid(digits)) errors.number = 'This card number is not valid; check the digits.';
  const expiry = parseExpiry(c.expiry);
  if (!expiry) errors.expiry = 'Enter the expiry date as MM/YY.';
  else if (expiry.year < now.getFullYear() || (expiry.year === now.getFullYear() && expiry.month < now.getMonth() + 1)) errors.expiry = 'This card has expired.';
  if (!/^\d{3,4}$/.test(c.cvc.trim())) errors.cvc = 'Enter the 3 or 4 digit security code.';
  return errors;
}

export const COUNTRIES: Array<[string, string]> = [
  ['AT', 'Austria'],
  ['BE', 'Belgium'],
  ['DE', 'Germany'],
  ['DK', 'Denmark'],
  ['ES', 'Spain'],
  ['FI', 'Finland'],
  ['FR', 'France'],
  ['GB', 'United Kingdom'],
  ['IE', 'Ireland'],
  ['IT', 'Italy'],
  ['LU', 'Luxembourg'],
  ['NL', 'Netherlands'],
  ['PL', 'Poland'],
  ['PT', 'Portugal'],
  ['SE', 'Sweden'],
  ['US', 'United States'],
];

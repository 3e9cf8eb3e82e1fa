import type { CartDiscount, CreateDiscountCodeRequest, DiscountCode, DiscountKind } from '@emporium/contracts';
import { AppError } from '@emporium/platform';

export interface Discount {
  code: string;
  kind: DiscountKind;
  /** Percent (1–100) or minor units. */
  value: number;
  currency: string | null;
  description: string;
  validFrom: Date | null;
  validUntil: Date | null;
  minSubtotal: number | null;
  active: boolean;
  createdAt: Date;
}

/** The rules a code must pass, checked in this order; the first that fails is the reason. */
export type DiscountRule = 'inactive' | 'not_yet_valid' | 'expired' | 'currency' | 'min_subtotal';

const ERROR_CODES: Record<DiscountRule, string> = {
  inactive: 'CART.DISCOUNT_INACTIVE',
  not_yet_valid: 'CART.DISCOUNT_NOT_YET_VALID',
  expired: 'CART.DISCOUNT_EXPIRED',
  currency: 'CART.DISCOUNT_WRONG_CURRENCY',
  min_subtotal: 'CART.DISCOUNT_BELOW_MINIMUM',
};

export function formatMoney(amount: number, currency: string): string {
  const digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  return `${(amount / 10 ** digits).toFixed(digits)} ${currency}`;
}

export function describeDiscount(kind: DiscountKind, value: number, currency: string | null): string {
  return kind === 'percentage' ? `${value}% off` : `${formatMoney(value, currency ?? 'EUR')} off`;
}

export function newDiscount(request: CreateDiscountCodeRequest, now: Date): Discount {
  return {
    code: request.code,
    kind: request.kind,
    value: request.value,
    currency: request.currency ?? null,
    description: request.description ?? describeDiscount(request.kind, request.value, request.currency ?? null),
    validFrom: request.validFrom ? new Date(request.validFrom) : null,
    validUntil: request.validUntil ? new Date(request.validUntil) : null,
    minSubtotal: request.minSubtotal ?? null,
    active: request.active,
    createdAt: now,
  };
}

export const toDiscountCode = (d: Discount): DiscountCode => ({
  code: d.code,
  kind: d.kind,
  value: d.value,
  currency: d.currency,
  description: d.description,
  validFrom: d.validFrom?.toISOString() ?? null,
  validUntil: d.validUntil?.toISOString() ?? null,
  minSubtotal: d.minSubtotal,
  active: d.active,
  createdAt: d.createdAt.toISOString(),
});

interface Basket {
  subtotal: number;
  currency: string;
}

/** The first rule `discount` fails for this basket now, with a sentence for the shopper; null when it applies. */
export function failedRule(discount: Discount, basket: Basket, now: Date): { rule: DiscountRule; reason: string } | null {
  const { code } = discount;
  if (!discount.active) return { rule: 'inactive', reason: `Code ${code} is no longer active.` };
  if (discount.validFrom && now < discount.validFrom) {
    return { rule: 'not_yet_valid', reason: `Code ${code} is not valid before ${discount.validFrom.toISOString()}.` };
  }
  if (discount.validUntil && now >= discount.validUntil) {
    return { rule: 'expired', reason: `Code ${code} expired at ${discount.validUntil.toISOString()}.` };
  }
  if (discount.currency && discount.currency !== basket.currency) {
    return { rule: 'currency', reason: `Code ${code} only applies to carts in ${discount.currency}.` };
  }
  if (discount.minSubtotal !== null && basket.subtotal < discount.minSubtotal) {
    const missing = formatMoney(discount.minSubtotal - basket.subtotal, basket.currency);
    return {
      rule: 'min_subtotal',
      reason: `Code ${code} needs a subtotal of at least ${formatMoney(discount.minSubtotal, basket.currency)}; add ${missing} more.`,
    };
  }
  return null;
}

/** Percentages round down to the minor unit; a fixed amount never exceeds the subtotal. */
export function discountAmount(discount: Discount, subtotal: number): number {
  return discount.kind === 'percentage' ? Math.floor((subtotal * discount.value) / 100) : Math.min(discount.value, subtotal);
}

export function priceDiscount(discount: Discount, basket: Basket, now: Date): CartDiscount {
  const failed = failedRule(discount, basket, now);
  return {
    code: discount.code,
    description: discount.description,
    amount: failed ? 0 : discountAmount(discount, basket.subtotal),
    reason: failed?.reason ?? null,
  };
}

/** Applying a code is refused (unlike reading a cart that stopped qualifying, which keeps it at 0). */
export function assertApplicable(discount: Discount | undefined, code: string, basket: Basket, now: Date): Discount {
  if (!discount) {
    throw new AppError('CART.DISCOUNT_NOT_FOUND', `There is no discount code ${code}.`, {
      status: 404,
      errors: [{ field: 'code', message: 'is not a known discount code' }],
    });
  }
  const failed = failedRule(discount, basket, now);
  if (failed) {
    throw new AppError(ERROR_CODES[failed.rule], failed.reason, {
      status: 422,
      errors: [{ field: 'code', message: failed.reason }],
      extensions: { rule: failed.rule },
    });
  }
  return discount;
}

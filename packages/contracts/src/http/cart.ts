import { z } from 'zod';
import { Currency, Id } from '../common';

// HTTP bodies of the cart service: carts per customer, their lines and discount codes.

const PathId = (what: string) => z.string().regex(/^[\w.:-]{1,64}$/, `must be a ${what} id`);

export const CartParams = z.object({ customerId: PathId('customer') });
export const CartLineParams = z.object({ customerId: PathId('customer'), productId: PathId('product') });

/** Units of one product on one cart line. */
export const CartQuantity = z.number().int().min(1).max(999);
export const MAX_CART_LINE_QUANTITY = 999;

export const AddToCartRequest = z
  .object({
    productId: Id.describe('product id; numbers are accepted and read as strings'),
    quantity: CartQuantity,
  })
  .strict();
export type AddToCartRequest = z.infer<typeof AddToCartRequest>;

export const RemoveFromCartRequest = z
  .object({
    productId: Id,
    quantity: CartQuantity.optional().describe('units to take off the line; without it the whole line goes'),
  })
  .strict();
export type RemoveFromCartRequest = z.infer<typeof RemoveFromCartRequest>;

export const SetCartLineRequest = z
  .object({ quantity: z.number().int().min(0).max(999).describe('0 removes the line') })
  .strict();
export type SetCartLineRequest = z.infer<typeof SetCartLineRequest>;

/** What shoppers type: letters are read upper-case. */
export const DiscountCodeText = z
  .string()
  .trim()
  .toUpperCase()
  .regex(/^[A-Z0-9]{3,32}$/, 'must be 3–32 letters or digits');

export const ApplyDiscountRequest = z.object({ code: DiscountCodeText }).strict();
export type ApplyDiscountRequest = z.infer<typeof ApplyDiscountRequest>;

export const StockStatus = z.enum(['in_stock', 'low_stock', 'out_of_stock', 'unknown']);
export type StockStatus = z.infer<typeof StockStatus>;

export const CartLine = z
  .object({
    productId: z.string(),
    name: z.string(),
    imageUrl: z.string().nullable(),
    unitPrice: z.number().int().describe('minor units, from the catalog at read time'),
    quantity: z.number().int(),
    lineTotal: z.number().int(),
    /** False once the catalog withdrew the product: the line stays but cannot be increased. */
    active: z.boolean(),
    availability: z.object({ available: z.number().int().nullable(), status: StockStatus }),
  })
  .meta({ id: 'CartLine' });
export type CartLine = z.infer<typeof CartLine>;

export const CartDiscount = z
  .object({
    code: z.string(),
    description: z.string(),
    amount: z.number().int().describe('minor units taken off the subtotal; 0 when the cart no longer qualifies'),
    reason: z.string().nullable().describe('why the code does not apply right now; null when it does'),
  })
  .meta({ id: 'CartDiscount' });
export type CartDiscount = z.infer<typeof CartDiscount>;

export const Cart = z
  .object({
    customerId: z.string(),
    currency: Currency,
    lines: z.array(CartLine),
    subtotal: z.number().int(),
    discount: CartDiscount.nullable(),
    total: z.number().int(),
    itemCount: z.number().int(),
    updatedAt: z.string().nullable().describe('null for a cart that was never written'),
  })
  .meta({ id: 'Cart' });
export type Cart = z.infer<typeof Cart>;

export const DiscountKind = z.enum(['percentage', 'fixed']);
export type DiscountKind = z.infer<typeof DiscountKind>;

export const CreateDiscountCodeRequest = z
  .object({
    code: z.string().regex(/^[A-Z0-9]{3,32}$/, 'must be 3–32 upper-case letters or digits'),
    kind: DiscountKind,
    value: z.number().int().min(1).max(10_000_000_00).describe('percentage 1–100, or a fixed amount in minor units'),
    currency: Currency.optional().describe('required for fixed amounts; limits a percentage to carts in that currency'),
    description: z.string().trim().min(1).max(200).optional().describe('shown to shoppers; generated when absent'),
    validFrom: z.iso.datetime({ offset: true }).optional(),
    validUntil: z.iso.datetime({ offset: true }).optional(),
    minSubtotal: z.number().int().min(0).max(10_000_000_00).optional().describe('minor units'),
    active: z.boolean().default(true),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.kind === 'percentage' && v.value > 100) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: 'must be between 1 and 100 for a percentage' });
    }
    if (v.kind === 'fixed' && !v.currency) {
      ctx.addIssue({ code: 'custom', path: ['currency'], message: 'is required for a fixed amount' });
    }
    if (v.validFrom && v.validUntil && Date.parse(v.validUntil) <= Date.parse(v.validFrom)) {
      ctx.addIssue({ code: 'custom', path: ['validUntil'], message: 'must be after validFrom' });
    }
  });
export type CreateDiscountCodeRequest = z.infer<typeof CreateDiscountCodeRequest>;

export const DiscountCode = z
  .object({
    code: z.string(),
    kind: DiscountKind,
    value: z.number().int(),
    currency: Currency.nullable(),
    description: z.string(),
    validFrom: z.string().nullable(),
    validUntil: z.string().nullable(),
    minSubtotal: z.number().int().nullable(),
    active: z.boolean(),
    createdAt: z.string(),
  })
  .meta({ id: 'DiscountCode' });
export type DiscountCode = z.infer<typeof DiscountCode>;

export const DiscountCodeParams = z.object({ code: DiscountCodeText });

export const DiscountCodeList = z.object({ items: z.array(DiscountCode) });

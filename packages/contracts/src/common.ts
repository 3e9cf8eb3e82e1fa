import { z } from 'zod';

/** Ids arrive as numbers (the seed's example) or strings; inside Emporium they are strings. */
export const Id = z
  .union([z.string().trim().min(1).max(64).regex(/^[\w.:-]+$/, 'may hold letters, digits and . _ : - only'), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)])
  .transform((v) => String(v));

/** ISO 4217 code. */
export const Currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR');

/** Money in integer minor units (cents) with its currency. */
export const Money = z.object({
  amount: z.number().int().min(0).max(100_000_000_00),
  currency: Currency,
});
export type Money = z.infer<typeof Money>;

/** Units of one product on one order or cart line. */
export const Quantity = z.number().int().min(1).max(1000);

export const OrderStatus = z.enum([
  'placed',
  'awaiting_payment',
  'payment_pending',
  'confirmed',
  'fulfilling',
  'completed',
  'rejected',
  'payment_failed',
  'cancelled',
]);
export type OrderStatus = z.infer<typeof OrderStatus>;

export const PaymentMethod = z.enum(['credit_card']);

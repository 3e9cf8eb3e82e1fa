import { z } from 'zod';

/** Ids as they arrive in paths: numeric ids such as 123 arrive as "123". */
export const InventoryProductId = z.string().regex(/^[\w.:-]{1,64}$/, 'must be a product id');

export const StockLevel = z
  .object({
    productId: z.string(),
    onHand: z.number().int().describe('units physically in stock'),
    reserved: z.number().int().describe('units held for orders not yet completed'),
    available: z.number().int().describe('onHand − reserved: what can still be sold'),
    updatedAt: z.string(),
  })
  .meta({ id: 'StockLevel' });
export type StockLevel = z.infer<typeof StockLevel>;

/** The most units a single stock change may set or move. */
export const MAX_STOCK_CHANGE = 1_000_000;

/** Exactly one of `set` (a counted on-hand figure) or `adjust` (a delta), and why. */
export const UpdateStockRequest = z
  .object({
    set: z.number().int().min(0).max(MAX_STOCK_CHANGE).optional().describe('absolute on-hand count, e.g. after a stock take'),
    adjust: z
      .number()
      .int()
      .min(-MAX_STOCK_CHANGE)
      .max(MAX_STOCK_CHANGE)
      .refine((n) => n !== 0, 'must not be zero')
      .optional()
      .describe('change to on-hand: +20 received, −1 damaged'),
    reason: z.string().trim().min(1).max(200).describe('why the stock changed; kept in the ledger'),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.set !== undefined && body.adjust !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['adjust'], message: 'must not be sent together with set (send exactly one)' });
    } else if (body.set === undefined && body.adjust === undefined) {
      ctx.addIssue({ code: 'custom', path: ['set'], message: 'or adjust is required (send exactly one)' });
    }
  });
export type UpdateStockRequest = z.infer<typeof UpdateStockRequest>;

export const MovementKind = z.enum(['received', 'adjusted', 'reserved', 'released', 'sold']);
export type MovementKind = z.infer<typeof MovementKind>;

export const StockMovement = z
  .object({
    id: z.number().int(),
    productId: z.string(),
    kind: MovementKind,
    quantity: z.number().int().describe('signed: the change to onHand (received, adjusted, sold) or to reserved (reserved, released)'),
    orderId: z.string().nullable(),
    reason: z.string(),
    createdAt: z.string(),
  })
  .meta({ id: 'StockMovement' });
export type StockMovement = z.infer<typeof StockMovement>;

export const ListMovementsQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    before: z.coerce.number().int().min(1).optional().describe('only movements with a smaller id (next page)'),
  })
  .strict();
export type ListMovementsQuery = z.infer<typeof ListMovementsQuery>;

export const MovementList = z.object({ items: z.array(StockMovement) });

export const StockMismatch = z.object({
  productId: z.string(),
  onHand: z.number().int(),
  onHandFromLedger: z.number().int().describe('sum of received, adjusted and sold movements'),
  reserved: z.number().int(),
  reservedFromReservations: z.number().int().describe('sum of active reservations'),
  reservedFromLedger: z.number().int().describe('sum of reserved, released and sold movements'),
});
export type StockMismatch = z.infer<typeof StockMismatch>;

export const Reconciliation = z.object({ ok: z.boolean(), mismatches: z.array(StockMismatch) });
export type Reconciliation = z.infer<typeof Reconciliation>;

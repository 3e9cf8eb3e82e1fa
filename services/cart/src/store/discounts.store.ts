import { AppError, type Db, type Sql } from '@emporium/platform';
import type { Discount } from '../domain/discount';

interface DiscountRow {
  code: string;
  kind: Discount['kind'];
  value: number;
  currency: string | null;
  description: string;
  valid_from: Date | null;
  valid_until: Date | null;
  min_subtotal: number | null;
  active: boolean;
  created_at: Date;
}

const COLUMNS = 'code, kind, value, currency, description, valid_from, valid_until, min_subtotal, active, created_at';

const toDiscount = (r: DiscountRow): Discount => ({
  code: r.code,
  kind: r.kind,
  value: r.value,
  currency: r.currency?.trim() ?? null,
  description: r.description,
  validFrom: r.valid_from,
  validUntil: r.valid_until,
  minSubtotal: r.min_subtotal,
  active: r.active,
  createdAt: r.created_at,
});

export async function findDiscount(tx: Sql, code: string): Promise<Discount | undefined> {
  const { rows } = await tx.query<DiscountRow>(`SELECT ${COLUMNS} FROM discount_codes WHERE code = $1`, [code]);
  return rows[0] ? toDiscount(rows[0]) : undefined;
}

export function createDiscountsStore(db: Db) {
  return {
    get: (code: string) => findDiscount(db, code),

    async list(): Promise<Discount[]> {
      const { rows } = await db.query<DiscountRow>(`SELECT ${COLUMNS} FROM discount_codes ORDER BY created_at DESC, code`);
      return rows.map(toDiscount);
    },

    async insert(d: Discount): Promise<void> {
      const inserted = await db.query(
        `INSERT INTO discount_codes (code, kind, value, currency, description, valid_from, valid_until, min_subtotal, active, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (code) DO NOTHING`,
        [d.code, d.kind, d.value, d.currency, d.description, d.validFrom, d.validUntil, d.minSubtotal, d.active, d.createdAt],
      );
      if (inserted.rowCount === 0) {
        throw new AppError('CART.DUPLICATE_DISCOUNT_CODE', `Discount code ${d.code} already exists.`, {
          status: 409,
          errors: [{ field: 'code', message: 'is already used' }],
        });
      }
    },
  };
}

export type DiscountsStore = ReturnType<typeof createDiscountsStore>;

import type { ListProductsQuery, Product } from '@emporium/contracts';
import { AppError, writeOutbox, type Db, type PendingEvent, type Sql } from '@emporium/platform';

interface ProductRow {
  id: string;
  sku: string;
  name: string;
  description: string;
  category: string;
  image_url: string | null;
  price_amount: number;
  currency: string;
  active: boolean;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'id, sku, name, description, category, image_url, price_amount, currency, active, created_at, updated_at';

const toProduct = (r: ProductRow): Product => ({
  id: r.id,
  sku: r.sku,
  name: r.name,
  description: r.description,
  category: r.category,
  imageUrl: r.image_url,
  price: { amount: r.price_amount, currency: r.currency },
  active: r.active,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

const SORTS: Record<ListProductsQuery['sort'], string> = {
  name: 'name ASC, id ASC',
  '-name': 'name DESC, id ASC',
  price: 'price_amount ASC, id ASC',
  '-price': 'price_amount DESC, id ASC',
  newest: 'created_at DESC, id ASC',
};

export function createProductsStore(db: Db, source: string) {
  const context = (correlationId?: string) => ({ source, correlationId });

  return {
    async nextId(): Promise<string> {
      const { rows } = await db.query<{ n: number }>("SELECT nextval('product_number') AS n");
      return String(rows[0]!.n);
    },

    async get(id: string, tx: Sql = db): Promise<Product | undefined> {
      const { rows } = await tx.query<ProductRow>(`SELECT ${COLUMNS} FROM products WHERE id = $1`, [id]);
      return rows[0] ? toProduct(rows[0]) : undefined;
    },

    async list(query: ListProductsQuery, options: { includeInactive: boolean }) {
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (sql: string, value: unknown) => {
        params.push(value);
        where.push(sql.replace('?', `$${params.length}`));
      };
      if (!options.includeInactive) where.push('active');
      if (query.category) add('category = ?', query.category);
      if (query.minPrice !== undefined) add('price_amount >= ?', query.minPrice);
      if (query.maxPrice !== undefined) add('price_amount <= ?', query.maxPrice);
      if (query.q) {
        params.push(query.q);
        const p = `$${params.length}`;
        // Whole words through the text index, and substrings ("head" finds "headphones").
        where.push(`(search @@ plainto_tsquery('simple', ${p}) OR name ILIKE '%' || ${p} || '%' OR sku ILIKE ${p})`);
      }
      const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
      const offset = (query.page - 1) * query.limit;
      const [page, count] = await Promise.all([
        db.query<ProductRow>(`SELECT ${COLUMNS} FROM products ${filter} ORDER BY ${SORTS[query.sort]} LIMIT ${query.limit} OFFSET ${offset}`, params),
        db.query<{ total: number }>(`SELECT count(*)::int AS total FROM products ${filter}`, params),
      ]);
      return { items: page.rows.map(toProduct), total: count.rows[0]?.total ?? 0, page: query.page, limit: query.limit };
    },

    async categories() {
      const { rows } = await db.query<{ category: string; products: number }>(
        'SELECT category, count(*)::int AS products FROM products WHERE active GROUP BY category ORDER BY category',
      );
      return rows;
    },

    async insert(product: Product, events: PendingEvent[], correlationId?: string): Promise<void> {
      await db.transaction(async (tx) => {
        const inserted = await tx.query(
          `INSERT INTO products (id, sku, name, description, category, image_url, price_amount, currency, active, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
          [product.id, product.sku, product.name, product.description, product.category, product.imageUrl, product.price.amount, product.price.currency, product.active, product.createdAt, product.updatedAt],
        );
        if (inserted.rowCount === 0) {
          throw new AppError('CATALOG.DUPLICATE_PRODUCT', `A product with id ${product.id} or SKU ${product.sku} already exists.`, {
            status: 409,
            errors: [{ field: 'sku', message: 'is already used by another product (or the id is)' }],
          });
        }
        await writeOutbox(tx, events, context(correlationId));
      });
    },

    /** Applies `change` to the locked row; `change` returns the new product and its events. */
    async update(id: string, change: (current: Product) => { product: Product; events: PendingEvent[] }, correlationId?: string): Promise<Product | undefined> {
      return db.transaction(async (tx) => {
        const { rows } = await tx.query<ProductRow>(`SELECT ${COLUMNS} FROM products WHERE id = $1 FOR UPDATE`, [id]);
        if (!rows[0]) return undefined;
        const { product, events } = change(toProduct(rows[0]));
        await tx.query(
          `UPDATE products SET name = $2, description = $3, category = $4, image_url = $5, price_amount = $6, currency = $7, active = $8, updated_at = $9 WHERE id = $1`,
          [id, product.name, product.description, product.category, product.imageUrl, product.price.amount, product.price.currency, product.active, product.updatedAt],
        );
        await writeOutbox(tx, events, context(correlationId));
        return product;
      });
    },
  };
}

export type ProductsStore = ReturnType<typeof createProductsStore>;

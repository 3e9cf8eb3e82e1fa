import { z } from 'zod';
import { Currency } from '../common';

const Text = (max: number) => z.string().trim().min(1).max(max);

/** The largest price in minor units. */
const MAX_PRICE = 10_000_000_00;

/**
 * A price bound in a query string: digits only (a blank `minPrice=` is not 0) and no more than a
 * price can be (beyond it PostgreSQL's integer overflows: a 500 instead of a 400).
 */
const QueryPrice = z
  .string()
  .regex(/^\d{1,10}$/, 'must be a whole number of minor units')
  .transform(Number)
  .pipe(z.number().int().min(0).max(MAX_PRICE));

export const Product = z
  .object({
    id: z.string(),
    sku: z.string(),
    name: z.string(),
    description: z.string(),
    category: z.string(),
    imageUrl: z.string().nullable(),
    price: z.object({ amount: z.number().int(), currency: Currency }),
    active: z.boolean(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Product' });
export type Product = z.infer<typeof Product>;

export const ProductId = z.string().regex(/^[\w-]{1,64}$/, 'must be a product id');

/** The fields staff set on a product; creating fills in defaults, updating must not. */
const ProductFields = {
  name: Text(200),
  description: z.string().trim().max(5000),
  category: z.string().trim().regex(/^[a-z0-9][a-z0-9-]{0,49}$/, 'must be a lower-case slug'),
  imageUrl: z.string().url().max(2000).nullable(),
  price: z.object({ amount: z.number().int().min(0).max(MAX_PRICE), currency: Currency }),
  active: z.boolean(),
};

export const CreateProductRequest = z
  .object({
    id: ProductId.optional().describe('optional: chosen id; assigned when absent'),
    sku: z.string().trim().regex(/^[A-Z0-9][A-Z0-9-]{1,39}$/, 'must be 2–40 upper-case letters, digits or dashes'),
    ...ProductFields,
    description: ProductFields.description.default(''),
    imageUrl: ProductFields.imageUrl.default(null),
    active: ProductFields.active.default(true),
  })
  .strict();
export type CreateProductRequest = z.infer<typeof CreateProductRequest>;

/**
 * Only the fields sent change. Built from the fields without their defaults: a `.partial()` of
 * the create schema would fill in `description: ''`, `imageUrl: null` and `active: true` for
 * every field left out (zod 4 applies defaults inside optional), wiping them on each update.
 */
export const UpdateProductRequest = z
  .object(ProductFields)
  .partial()
  .strict()
  .refine((v) => Object.keys(v).length > 0, { message: 'must change at least one field' });
export type UpdateProductRequest = z.infer<typeof UpdateProductRequest>;

export const ProductSort = z.enum(['name', '-name', 'price', '-price', 'newest']);

export const ListProductsQuery = z
  .object({
    q: z.string().trim().min(1).max(100).optional().describe('text search over name and description'),
    category: z.string().trim().max(50).optional(),
    minPrice: QueryPrice.optional(),
    maxPrice: QueryPrice.optional(),
    sort: ProductSort.default('name'),
    page: z.coerce.number().int().min(1).max(10_000).default(1),
    limit: z.coerce.number().int().min(1).max(100).default(20),
  })
  .strict();
export type ListProductsQuery = z.infer<typeof ListProductsQuery>;

export const ProductPage = z.object({
  items: z.array(Product),
  total: z.number().int(),
  page: z.number().int(),
  limit: z.number().int(),
});

export const CategoryList = z.object({
  items: z.array(z.object({ category: z.string(), products: z.number().int() })),
});

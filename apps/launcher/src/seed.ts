import { DEMO_DISCOUNTS, DEMO_PRODUCTS } from './demo-data';

type Call = (method: string, path: string, body?: unknown) => Promise<{ status: number; json: unknown }>;

/** Calls the gateway as a staff member, waiting out rate limits (429 + Retry-After) as a polite client does. */
async function staffClient(baseUrl: string, admin: { email: string; password: string }): Promise<Call> {
  const raw = async (method: string, path: string, body: unknown, headers: Record<string, string>) => {
    for (;;) {
      const res = await fetch(`${baseUrl}${path}`, {
        method,
        headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      if (res.status === 429) {
        await new Promise((r) => setTimeout(r, Number(res.headers.get('retry-after') ?? 1) * 1000));
        continue;
      }
      return { status: res.status, json: text ? (JSON.parse(text) as unknown) : null };
    }
  };
  const signIn = await raw('POST', '/auth/staff/signin', { email: admin.email, password: admin.password }, {});
  if (signIn.status !== 200) throw new Error(`seeding: the admin could not sign in: ${signIn.status} ${JSON.stringify(signIn.json)}`);
  const authorization = `Bearer ${(signIn.json as { accessToken: string }).accessToken}`;
  return (method, path, body) => raw(method, path, body, { authorization });
}

/**
 * Seeds the demo store through the public API (so it works the same in both modes), unless a
 * finished seed is already there: the last discount code is written last and marks completion,
 * so an interrupted seed simply runs again.
 */
export async function seedDemo(baseUrl: string, admin: { email: string; password: string }, log: (message: string) => void = () => undefined): Promise<boolean> {
  const call = await staffClient(baseUrl, admin);
  const marker = DEMO_DISCOUNTS[DEMO_DISCOUNTS.length - 1]!.code;
  const existing = await call('GET', '/discounts');
  if (existing.status === 200 && JSON.stringify(existing.json).includes(`"${marker}"`)) return false;

  for (const product of DEMO_PRODUCTS) {
    const res = await call('POST', '/products', {
      id: product.id,
      sku: product.sku,
      name: product.name,
      description: product.description,
      category: product.category,
      imageUrl: null,
      price: { amount: product.price, currency: 'EUR' },
    });
    if (res.status !== 201 && res.status !== 409) throw new Error(`seeding product ${product.id} failed: ${res.status} ${JSON.stringify(res.json)}`);
  }
  // Inventory learns of products from catalog-events, so stock is set once it has heard of each.
  const deadline = Date.now() + 60_000;
  for (const product of DEMO_PRODUCTS) {
    for (;;) {
      const res = await call('POST', `/inventory/${product.id}/update`, { set: product.stock, reason: 'demo store opening stock' });
      if (res.status === 200) break;
      if (res.status !== 404 || Date.now() > deadline) throw new Error(`seeding stock of ${product.id} failed: ${res.status} ${JSON.stringify(res.json)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  for (const discount of DEMO_DISCOUNTS) {
    const res = await call('POST', '/discounts', discount);
    if (res.status !== 201 && res.status !== 409) throw new Error(`seeding discount ${discount.code} failed: ${res.status} ${JSON.stringify(res.json)}`);
  }
  log(`seeded ${DEMO_PRODUCTS.length} products with stock and ${DEMO_DISCOUNTS.length} discount codes`);
  return true;
}

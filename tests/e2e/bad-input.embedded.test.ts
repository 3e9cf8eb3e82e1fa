import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbedded, type EmbeddedPlatform } from '@emporium/launcher/embedded';
import { signInStaff, signUpCustomer, TEST_ADMIN, type Session } from '../support/auth';

/** Random bodies — mostly wrong, some almost right — at every public POST/DELETE of the seed's paths. */
const ENDPOINTS: Array<{ method: string; path: string; as: 'shopper' | 'staff'; near: fc.Arbitrary<unknown> }> = [
  {
    method: 'POST',
    path: '/api/orders',
    as: 'shopper',
    near: fc.record({
      customer_id: fc.oneof(fc.integer(), fc.string(), fc.constant(null)),
      items: fc.array(fc.record({ product_id: fc.oneof(fc.constantFrom(456, '456', 'nope'), fc.integer()), quantity: fc.oneof(fc.integer(), fc.double(), fc.string()) }), { maxLength: 3 }),
      payment_method: fc.constantFrom('credit_card', 'cash', 7),
    }, { requiredKeys: [] }),
  },
  { method: 'POST', path: '/cart/{me}/add', as: 'shopper', near: fc.record({ productId: fc.oneof(fc.constantFrom('456', 'x'), fc.integer()), quantity: fc.oneof(fc.integer(), fc.double(), fc.string()) }, { requiredKeys: [] }) },
  { method: 'DELETE', path: '/cart/{me}/remove', as: 'shopper', near: fc.record({ productId: fc.oneof(fc.constant('456'), fc.integer()), quantity: fc.oneof(fc.integer(), fc.string()) }, { requiredKeys: [] }) },
  { method: 'POST', path: '/inventory/457/update', as: 'staff', near: fc.record({ set: fc.oneof(fc.integer(), fc.double()), adjust: fc.integer(), reason: fc.string() }, { requiredKeys: [] }) },
  { method: 'POST', path: '/products', as: 'staff', near: fc.record({ sku: fc.string(), name: fc.string(), category: fc.string(), price: fc.record({ amount: fc.integer(), currency: fc.string() }) }, { requiredKeys: [] }) },
];

describe('bad input at the public edge (embedded)', () => {
  let platform: EmbeddedPlatform;
  const sessions = {} as Record<'shopper' | 'staff', Session>;
  beforeAll(async () => {
    // Signed in as whoever may call each route, so the bodies reach validation; no rate limits in the way.
    platform = await startEmbedded({ port: 0, logLevel: 'silent', seed: true, admin: TEST_ADMIN, gateway: { rateLimits: { client: false, account: false, signIn: false } } });
    sessions.staff = await signInStaff(platform.url);
    sessions.shopper = await signUpCustomer(platform.url);
  }, 120_000);
  afterAll(() => platform.stop());

  for (const endpoint of ENDPOINTS) {
    it(`when ${endpoint.method} ${endpoint.path} gets random JSON, then it never answers 5xx and every error is a problem document`, async () => {
      const body = fc.oneof(endpoint.near, fc.jsonValue().map((v) => v as unknown), fc.string().map((s) => ({ raw: s })));
      await fc.assert(
        fc.asyncProperty(body, fc.boolean(), async (value, malformed) => {
          const raw = value as { raw?: string } | null;
          const payload = malformed && raw && typeof raw === 'object' && 'raw' in raw ? `{${raw.raw}` : JSON.stringify(value);
          const session = sessions[endpoint.as];
          const path = endpoint.path.replace('{me}', session.id);
          const res = await fetch(`${platform.url}${path}`, { method: endpoint.method, headers: { 'content-type': 'application/json', ...session.headers }, body: payload });
          const text = await res.text();
          expect(res.status, `${payload} → ${text}`).toBeLessThan(500);
          // Signed in as who may: every answer is about the body, none about access — except an order
          // for another customer (a customer_id not the shopper's own), which is refused as such, naming the field.
          const named = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as { customer_id?: unknown }).customer_id : undefined;
          const forAnotherCustomer = endpoint.path === '/api/orders' && typeof named === 'string' && named !== session.id;
          if (forAnotherCustomer && res.status === 403) expect(JSON.parse(text), `${payload} → ${text}`).toMatchObject({ code: 'ORDERS.CUSTOMER_MISMATCH', errors: [{ field: 'customer_id' }] });
          else expect([401, 403, 429], `${payload} → ${text}`).not.toContain(res.status);
          expect(text, payload).not.toContain('"AUTH.');
          if (res.status >= 400) {
            expect(res.headers.get('content-type')).toContain('application/problem+json');
            expect(JSON.parse(text)).toMatchObject({ status: res.status, code: expect.any(String), detail: expect.any(String) });
          }
        }),
        { numRuns: 150 },
      );
    }, 60_000);
  }
});

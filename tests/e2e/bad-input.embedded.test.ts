import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbedded, type EmbeddedPlatform } from '@emporium/launcher/embedded';

/** Random bodies — mostly wrong, some almost right — at every public POST/DELETE of the seed's paths. */
const ENDPOINTS: Array<{ method: string; path: string; near: fc.Arbitrary<unknown> }> = [
  {
    method: 'POST',
    path: '/api/orders',
    near: fc.record({
      customer_id: fc.oneof(fc.integer(), fc.string(), fc.constant(null)),
      items: fc.array(fc.record({ product_id: fc.oneof(fc.constantFrom(456, '456', 'nope'), fc.integer()), quantity: fc.oneof(fc.integer(), fc.double(), fc.string()) }), { maxLength: 3 }),
      payment_method: fc.constantFrom('credit_card', 'cash', 7),
    }, { requiredKeys: [] }),
  },
  { method: 'POST', path: '/cart/fuzz/add', near: fc.record({ productId: fc.oneof(fc.constantFrom('456', 'x'), fc.integer()), quantity: fc.oneof(fc.integer(), fc.double(), fc.string()) }, { requiredKeys: [] }) },
  { method: 'DELETE', path: '/cart/fuzz/remove', near: fc.record({ productId: fc.oneof(fc.constant('456'), fc.integer()), quantity: fc.oneof(fc.integer(), fc.string()) }, { requiredKeys: [] }) },
  { method: 'POST', path: '/inventory/457/update', near: fc.record({ set: fc.oneof(fc.integer(), fc.double()), adjust: fc.integer(), reason: fc.string() }, { requiredKeys: [] }) },
  { method: 'POST', path: '/products', near: fc.record({ sku: fc.string(), name: fc.string(), category: fc.string(), price: fc.record({ amount: fc.integer(), currency: fc.string() }) }, { requiredKeys: [] }) },
];

describe('bad input at the public edge (embedded)', () => {
  let platform: EmbeddedPlatform;
  beforeAll(async () => {
    platform = await startEmbedded({ port: 0, logLevel: 'silent', seed: true });
  }, 120_000);
  afterAll(() => platform.stop());

  for (const endpoint of ENDPOINTS) {
    it(`when ${endpoint.method} ${endpoint.path} gets random JSON, then it never answers 5xx and every error is a problem document`, async () => {
      const body = fc.oneof(endpoint.near, fc.jsonValue().map((v) => v as unknown), fc.string().map((s) => ({ raw: s })));
      await fc.assert(
        fc.asyncProperty(body, fc.boolean(), async (value, malformed) => {
          const raw = value as { raw?: string } | null;
          const payload = malformed && raw && typeof raw === 'object' && 'raw' in raw ? `{${raw.raw}` : JSON.stringify(value);
          const res = await fetch(`${platform.url}${endpoint.path}`, { method: endpoint.method, headers: { 'content-type': 'application/json' }, body: payload });
          const text = await res.text();
          expect(res.status, `${payload} → ${text}`).toBeLessThan(500);
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

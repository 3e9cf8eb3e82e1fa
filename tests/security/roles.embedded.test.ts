import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedPlatform } from '@emporium/launcher/embedded';
import { signInStaff, type Session } from '../support/auth';
import { call, expectProblem, show, startSecurityPlatform } from './support/platform';
import { createWorld, idempotent, type World } from './support/world';

/**
 * ADR 0009's table of staff routes: shoppers (customer or guest) get 403, nobody gets 401, staff
 * without the role get 403, and staff with it get through (whatever the service then answers).
 */
type Role = 'admin' | 'operations' | 'support';

interface StaffRoute {
  method: string;
  path: string;
  body?: unknown;
  roles: readonly Role[];
}

const SERVICES = ['catalog', 'cart', 'inventory', 'orders', 'payments', 'shipping', 'identity'];

describe('staff routes need the right role', () => {
  let platform: EmbeddedPlatform;
  let w: World;
  const staff: Partial<Record<Role, Session>> = {};
  let routes: StaffRoute[];

  async function createStaff(roles: Role[]): Promise<Session> {
    const email = `staff-${randomBytes(4).toString('hex')}@emporium.test`;
    const password = `Staff pass ${randomBytes(6).toString('hex')}`;
    const res = await call(platform.url, 'POST', '/auth/staff', { headers: w.admin.headers, body: { email, password, name: `Staff ${roles.join('+')}`, roles } });
    if (res.status !== 201) throw new Error(`creating staff: ${show(res)}`);
    return signInStaff(platform.url, { email, password });
  }

  beforeAll(async () => {
    platform = await startSecurityPlatform();
    w = await createWorld(platform.url);
    staff.admin = w.admin;
    staff.operations = await createStaff(['operations']);
    staff.support = await createStaff(['support']);
    const OPS: Role[] = ['admin', 'operations'];
    routes = [
      { method: 'POST', path: '/products', roles: OPS, body: { sku: `ROLE-${randomBytes(3).toString('hex').toUpperCase()}`, name: 'Role test', category: 'security', price: { amount: 100, currency: 'EUR' } } },
      { method: 'PATCH', path: `/products/${w.productId}`, roles: OPS, body: { name: 'Renamed by staff' } },
      { method: 'GET', path: '/inventory/reconciliation', roles: OPS },
      { method: 'GET', path: `/inventory/${w.productId}/movements`, roles: OPS },
      { method: 'POST', path: `/inventory/${w.productId}/update`, roles: OPS, body: { adjust: 1, reason: 'role test' } },
      { method: 'GET', path: '/discounts', roles: OPS },
      { method: 'GET', path: '/discounts/WELCOME10', roles: OPS },
      { method: 'POST', path: '/discounts', roles: OPS, body: { code: `ROLE${randomBytes(3).toString('hex').toUpperCase()}`, kind: 'percentage', value: 5 } },
      { method: 'POST', path: `/shipments/${w.shipmentId}/status`, roles: OPS, body: { status: 'in_transit' } },
      ...SERVICES.flatMap((s): StaffRoute[] => [
        { method: 'GET', path: `/ops/${s}/dead-letters`, roles: OPS },
        { method: 'POST', path: `/ops/${s}/dead-letters/1/replay`, roles: OPS, body: {} },
      ]),
      { method: 'POST', path: `/api/payments/${w.paymentId}/refund`, roles: ['admin', 'support'], body: { amount: 1, reason: 'role test' } },
    ];
  }, 120_000);
  afterAll(() => platform?.stop(), 60_000);

  const send = (route: StaffRoute, headers: Record<string, string>) =>
    call(platform.url, route.method, route.path, { headers: { ...headers, ...(route.method === 'POST' ? idempotent() : {}) }, body: route.body });

  it('when a customer or a guest calls any staff route, then 403 AUTH.FORBIDDEN', async () => {
    for (const route of routes) {
      for (const shopper of [w.owner, w.guestShopper]) {
        const res = await send(route, shopper.headers);
        expectProblem(res, 403);
        expect(res.json?.code, `${route.method} ${route.path}`).toBe('AUTH.FORBIDDEN');
      }
    }
  });

  it('when nobody is signed in, then every staff route answers 401', async () => {
    for (const route of routes) expectProblem(await send(route, {}), 401);
  });

  it('when staff without the route’s role call it, then 403', async () => {
    for (const route of routes) {
      for (const role of (['operations', 'support'] as const).filter((r) => !route.roles.includes(r))) {
        const res = await send(route, staff[role]!.headers);
        expect(res.status, `${role} → ${route.method} ${route.path}: ${show(res)}`).toBe(403);
        expectProblem(res, 403);
      }
    }
  });

  it('when staff with the role call it, then the gateway lets them through (no 401/403)', async () => {
    for (const route of routes) {
      for (const role of route.roles) {
        const res = await send(route, staff[role]!.headers);
        expect([401, 403], `${role} → ${route.method} ${route.path}: ${show(res)}`).not.toContain(res.status);
        expect(res.status, `${role} → ${route.method} ${route.path}: ${show(res)}`).toBeLessThan(500);
      }
    }
  });

  it('when a customer or non-admin staff creates a staff member, then 403 and nobody can sign in with it', async () => {
    for (const caller of [w.owner, staff.operations!, staff.support!]) {
      const email = `sneaky-${randomBytes(4).toString('hex')}@emporium.test`;
      const res = await call(platform.url, 'POST', '/auth/staff', { headers: caller.headers, body: { email, password: 'Sneaky staff pass 1', name: 'Sneaky', roles: ['admin'] } });
      expectProblem(res, [401, 403]);
      const signIn = await call(platform.url, 'POST', '/auth/staff/signin', { body: { email, password: 'Sneaky staff pass 1' } });
      expectProblem(signIn, 401);
    }
  });

  it('when any staff member reads a customer’s cart, orders, payment and shipment, then 200 (support work)', async () => {
    for (const role of ['admin', 'operations', 'support'] as const) {
      for (const path of [`/cart/${w.owner.id}`, `/api/orders/${w.shippedOrder.id}`, `/api/orders?customerId=${w.owner.id}`, `/api/payments/${w.paymentId}`, `/shipments/${w.shipmentId}`]) {
        const res = await call(platform.url, 'GET', path, { headers: staff[role]!.headers });
        expect(res.status, `${role} GET ${path}: ${show(res)}`).toBe(200);
      }
    }
  });

  it('when staff write to a customer’s cart, then 403 (reading is support work, changing it is not)', async () => {
    const res = await call(platform.url, 'POST', `/cart/${w.owner.id}/add`, { headers: { ...w.admin.headers, ...idempotent() }, body: { productId: w.productId, quantity: 1 } });
    expectProblem(res, [403, 404]);
  });
});

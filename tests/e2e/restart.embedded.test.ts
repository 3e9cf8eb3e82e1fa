import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbedded, type EmbeddedPlatform } from '@emporium/launcher/embedded';
import { signUpCustomer, TEST_ADMIN, type Session } from '../support/auth';

let shopper: Session | undefined;

async function call(url: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}${path}`, { method, headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...shopper?.headers }, body: body ? JSON.stringify(body) : undefined });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test reads loosely typed JSON
  return { status: res.status, body: (await res.json()) as any };
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('embedded mode across a restart', () => {
  let dir: string;
  let platform: EmbeddedPlatform | undefined;
  afterAll(async () => {
    await platform?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('when npm start is stopped and started again on the same data, then orders, stock and the saga carry on where they were', async () => {
    dir = await mkdtemp(join(tmpdir(), 'emporium-restart-'));
    const dataDir = join(dir, 'pglite');
    platform = await startEmbedded({ dataDir, port: 0, logLevel: 'silent', seed: true, admin: TEST_ADMIN });
    expect(platform.seeded).toBe(true);
    shopper = await signUpCustomer(platform.url);
    const placed = await call(platform.url, 'POST', '/api/orders', { items: [{ product_id: 456, quantity: 2 }], payment_method: 'credit_card' });
    expect(placed.status).toBe(201);
    const id = placed.body.id as string;
    await until(async () => ((await call(platform!.url, 'GET', `/api/orders/${id}`)).body.status === 'awaiting_payment' ? true : undefined), 'awaiting_payment');
    expect((await call(platform.url, 'GET', '/inventory/456')).body).toMatchObject({ onHand: 50, reserved: 2, available: 48 });
    await platform.stop();

    platform = await startEmbedded({ dataDir, port: 0, logLevel: 'silent', seed: true, admin: TEST_ADMIN });
    expect(platform.seeded).toBe(false);
    // The shopper's session survives the restart (the signing keys are in the database).
    expect((await call(platform.url, 'GET', '/products?limit=1')).body.total).toBe(40);
    expect((await call(platform.url, 'GET', '/inventory/456')).body).toMatchObject({ onHand: 50, reserved: 2 });
    const paid = await call(platform.url, 'POST', `/api/orders/${id}/payment`, { payment_token: 'tok_success' });
    expect(paid.status).toBe(202);
    const done = await until(async () => {
      const order = (await call(platform!.url, 'GET', `/api/orders/${id}`)).body;
      return order.terminal ? order : undefined;
    }, 'the order to finish after the restart');
    expect(done.status).toBe('completed');
    await until(async () => ((await call(platform!.url, 'GET', '/inventory/456')).body.onHand === 48 ? true : undefined), 'the sale to leave on-hand stock');
    expect((await call(platform.url, 'GET', '/inventory/456')).body).toMatchObject({ onHand: 48, reserved: 0, available: 48 });
  }, 120_000);
});

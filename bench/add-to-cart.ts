/**
 * One shopper's add to cart, distributed (`tsx bench/add-to-cart.ts`): the same add through the
 * gateway and straight to the cart service (with the principal headers the gateway would add),
 * in alternating rounds, so the gateway's share and the cart's own are seen under the same machine
 * state. The cart is emptied every 50 adds, so it stays a realistic size.
 *   tsx bench/add-to-cart.ts [--rounds 3] [--adds 500] [--port 3860] [--db-prefix perf_add]
 */
import { dropServiceDatabases } from '@emporium/launcher/distributed';
import { signInStaff } from '../tests/support/auth';
import { argOf, client, percentiles, round, startBenchPlatform } from './lib';

const ROUNDS = Number(argOf('rounds', '3'));
const ADDS = Number(argOf('adds', '500'));
const PORT = Number(argOf('port', '3860'));
const PREFIX = argOf('db-prefix', 'perf_add');
const NAMESPACE = `add-${Math.random().toString(36).slice(2, 8)}`;

await dropServiceDatabases(PREFIX);
const platform = await startBenchPlatform({ prefix: PREFIX, port: PORT, namespace: NAMESPACE });
const viaGateway = client(platform.url);
const direct = client(platform.urls.cart);
try {
  const staff = await signInStaff(platform.url);
  const product = 'bench-add-1';
  const created = await viaGateway.request('POST', '/products', { id: product, sku: 'BENCH-ADD-1', name: 'Bench add', description: '', category: 'bench', price: { amount: 100, currency: 'EUR' } }, staff.headers);
  if (created.status !== 201) throw new Error(`product: ${created.status} ${JSON.stringify(created.body)}`);
  const guest = (await viaGateway.request('POST', '/auth/guest', {})).body as { accessToken: string; guest: { id: string } };
  const path = `/cart/${guest.guest.id}`;
  const through = { client: viaGateway, headers: { authorization: `Bearer ${guest.accessToken}` } };
  const straight = { client: direct, headers: { 'x-principal-type': 'guest', 'x-principal-id': guest.guest.id, 'x-principal-roles': '' } };
  // The cart learns the product from catalog's event: wait until it can be added.
  while ((await viaGateway.request('POST', `${path}/add`, { productId: product, quantity: 1 }, through.headers)).status !== 200) await new Promise((r) => setTimeout(r, 100));

  for (let r = 1; r <= ROUNDS; r++) {
    for (const [name, { client: http, headers }] of [['through the gateway', through], ['straight to cart', straight]] as const) {
      const ms: number[] = [];
      for (let i = 0; i < ADDS; i++) {
        if (i % 50 === 0) await http.request('DELETE', path, undefined, headers);
        const added = await http.request('POST', `${path}/add`, { productId: product, quantity: 1 }, headers);
        if (added.status !== 200) throw new Error(`add: ${added.status} ${JSON.stringify(added.body)}`);
        ms.push(added.ms);
      }
      const p = percentiles(ms);
      process.stdout.write(`round ${r}, ${name}: p50 ${round(p.p50, 2)} / p95 ${round(p.p95, 2)} / p99 ${round(p.p99, 2)} / max ${round(p.max, 1)} ms (${ADDS} adds)\n`);
    }
  }
} finally {
  await viaGateway.close();
  await direct.close();
  await platform.stop();
}

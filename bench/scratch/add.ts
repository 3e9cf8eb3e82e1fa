import { dropServiceDatabases, startDistributed, SERVICE_NAMES } from '@emporium/launcher/distributed';
import { NO_RATE_LIMITS_ENV, signInStaff, TEST_ADMIN } from '../../tests/support/auth';
import { client, percentiles } from '../lib';
const PORT = 3860;
const prof: Record<string, string> = process.env.PROF ? { NODE_OPTIONS: '--import /work/main/bench/cpu-profiler.mjs', CPU_PROFILE_DIR: process.env.PROF } : {};
await dropServiceDatabases('perf_add');
const platform = await startDistributed({ gatewayPort: PORT, servicePortBase: PORT, databasePrefix: 'perf_add', logLevel: 'warn', admin: TEST_ADMIN,
  env: { gateway: { ...NO_RATE_LIMITS_ENV, ...prof }, ...Object.fromEntries(SERVICE_NAMES.map((n) => [n, { KAFKA_NAMESPACE: 'add-' + Date.now(), ...(n === 'cart' ? prof : {}) }])) } });
const http = client(platform.url);
try {
  const staff = await signInStaff(platform.url);
  const id = 'add-p1';
  const r = await http.request('POST', '/products', { id, sku: 'ADD-P1', name: 'p', description: 'd', category: 'c', price: { amount: 100, currency: 'EUR' } }, staff.headers);
  if (r.status !== 201) throw new Error(JSON.stringify(r));
  await http.request('POST', `/inventory/${id}/update`, { set: 1_000_000, reason: 'x' }, staff.headers);
  const g = await http.request('POST', '/auth/guest', {});
  const guest = g.body as { accessToken: string; guest: { id: string } };
  const headers = { authorization: `Bearer ${guest.accessToken}` };
  for (;;) { const a = await http.request('POST', `/cart/${guest.guest.id}/add`, { productId: id, quantity: 1 }, headers); if (a.status === 200) break; await new Promise((s) => setTimeout(s, 100)); }
  const cartPort = PORT + 1 + SERVICE_NAMES.indexOf('cart');
  const direct = client(`http://127.0.0.1:${cartPort}`);
  const ph = { 'x-principal-type': 'guest', 'x-principal-id': guest.guest.id, 'x-principal-roles': '' };
  if (process.env.PROF) for (const n of ['gateway', 'cart'] as const) process.kill(platform.pid(n)!, 'SIGUSR2');
  for (let round = 0; round < Number(process.env.ROUNDS ?? 3); round++) {
    for (const [name, c, h] of [['gateway', http, headers], ['cart direct', direct, ph]] as const) {
      const ms: number[] = [];
      for (let i = 0; i < 500; i++) {
        const a = await c.request('POST', `/cart/${guest.guest.id}/add`, { productId: id, quantity: 1 }, h);
        if (a.status !== 200) throw new Error(JSON.stringify(a));
        ms.push(a.ms);
        if (i % 50 === 0) await c.request('DELETE', `/cart/${guest.guest.id}`, undefined, h);
      }
      const p = percentiles(ms);
      console.log(name, 'p50', p.p50.toFixed(2), 'p95', p.p95.toFixed(2), 'p99', p.p99.toFixed(2), 'max', p.max.toFixed(1));
    }
  }
  await direct.close();
} finally {
  await http.close();
  await platform.stop();
}

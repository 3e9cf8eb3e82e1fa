import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedPlatform } from '@emporium/launcher/embedded';
import type { Session } from '../support/auth';
import { casesOf, operationName, operationsOf, runCases, type Caller, type Operation, type Tally, type Violation } from './support/fuzz';
import type { Hints } from './support/json-schema';
import { startSecurityPlatform } from './support/platform';
import { createWorld, type World } from './support/world';

/**
 * Every public operation of every service, fuzzed from its own OpenAPI document as the gateway
 * publishes it: at least RUNS requests each, valid and invalid, sent with the kind of token the
 * route needs so they reach validation. Rules: no 5xx; no request that breaks the schema gets a
 * 2xx; every 4xx is a problem document. The figures are printed at the end.
 */
const SERVICES = ['catalog', 'cart', 'inventory', 'orders', 'payments', 'shipping', 'identity'] as const;
const RUNS = Number(process.env.SECURITY_FUZZ_RUNS ?? 1000);
const SEED = Number(process.env.SECURITY_FUZZ_SEED ?? 20261201);
const CONCURRENCY = 8;
/** Endpoints that run argon2id (~100 ms) on a valid request: mostly invalid requests there. */
const ARGON2 = new Set(['POST /auth/signup', 'POST /auth/signin', 'POST /auth/staff/signin', 'POST /auth/staff', 'POST /auth/password']);

/** Who calls each route (ADR 0009's table): staff routes as the admin, shopper routes as a customer. */
export function callerOf(op: Operation): Caller {
  const { method, path } = op;
  if (path.startsWith('/ops/')) return 'admin';
  if (path === '/auth/password' || path === '/auth/me') return 'customer';
  if (path === '/auth/staff') return 'admin';
  if (path.startsWith('/auth/') || path.startsWith('/.well-known/')) return 'anonymous';
  if (path.startsWith('/products')) return method === 'GET' ? 'anonymous' : 'admin';
  if (path.startsWith('/inventory')) return method === 'GET' && path === '/inventory/{productId}' ? 'anonymous' : 'admin';
  if (path.startsWith('/discounts')) return 'admin';
  if (path === '/shipments/{shipmentId}/status' || path === '/api/payments/{paymentId}/refund') return 'admin';
  return 'customer';
}

const strongPassword = fc.tuple(fc.constantFrom('Fuzzy', 'Orbit', 'Quartz', 'Lantern'), fc.stringMatching(/^[a-z0-9]{8,16}$/)).map(([w, s]) => `${w} ${s} 7!`);

function hintsFor(op: Operation, world: World, customer: Session): Hints {
  // Mostly things that exist and amounts that fit, so valid requests reach the success path too.
  const products = fc.oneof({ weight: 9, arbitrary: fc.constant(world.productId) }, { weight: 1, arbitrary: fc.constant('sec-missing') });
  const own = fc.constant(customer.id);
  const few = fc.integer({ min: 1, max: 2 });
  switch (op.service) {
    case 'catalog':
      return op.method === 'POST' ? {} : { id: products };
    case 'cart':
      return { customerId: own, productId: products, quantity: few, code: fc.constantFrom('WELCOME10', 'SAVE5', 'NOPE123') };
    case 'inventory':
      return { productId: products };
    case 'orders':
      return op.path.startsWith('/ops/')
        ? {}
        : {
            id: fc.constantFrom(world.openOrder.id, world.shippedOrder.id),
            customer_id: own,
            customerId: own,
            items: fc.array(fc.record({ product_id: products, quantity: few }), { minLength: 1, maxLength: 2 }),
            payment_token: fc.constantFrom('tok_success', 'tok_declined'),
          };
    case 'payments':
      return op.path.startsWith('/ops/') ? {} : { paymentId: fc.constant(world.paymentId), orderId: fc.constant(world.shippedOrder.id) };
    case 'shipping':
      return op.path.startsWith('/ops/') ? {} : { shipmentId: fc.constant(world.shipmentId), orderId: fc.constant(world.shippedOrder.id) };
    case 'identity':
      return { email: fc.emailAddress().filter((e) => e.length <= 254), password: strongPassword, newPassword: strongPassword, name: fc.constantFrom('Ada', 'Grace Hopper', 'Zoë') };
    default:
      return {};
  }
}

describe('fuzzing every public endpoint from its OpenAPI schema', () => {
  let platform: EmbeddedPlatform;
  let world: World;
  let customer: Session;
  let pool: Pool;
  const operations: Operation[] = [];
  const tallies: Tally[] = [];

  beforeAll(async () => {
    platform = await startSecurityPlatform();
    world = await createWorld(platform.url);
    // Its own customer: the fuzzing changes carts and passwords it must not share with the other suites' data.
    customer = world.owner;
    pool = new Pool(platform.url, { connections: CONCURRENCY, pipelining: 1, keepAliveTimeout: 30_000 });
    for (const service of SERVICES) {
      const res = await fetch(`${platform.url}/api-docs/${service}`);
      expect(res.status, `GET /api-docs/${service}`).toBe(200);
      operations.push(...operationsOf(service, (await res.json()) as Parameters<typeof operationsOf>[1]));
    }
  }, 120_000);

  afterAll(async () => {
    await pool?.close();
    await platform?.stop();
  }, 60_000);

  it(`when each operation gets ${RUNS} generated requests, then none answers 5xx, none accepts an invalid one and every 4xx is a problem document`, async () => {
    expect(operations.length).toBeGreaterThanOrEqual(50);
    const tokens: Record<Caller, Record<string, string>> = { anonymous: {}, customer: customer.headers, admin: world.admin.headers };
    const violations: Violation[] = [];
    const started = Date.now();
    for (const [i, op] of operations.entries()) {
      const name = operationName(op);
      const arbitrary = casesOf(op, {
        validWeight: ARGON2.has(name) ? 6 : 80,
        hints: hintsFor(op, world, customer),
        headers: { ...tokens[callerOf(op)], 'x-request-id': `fuzz-${randomBytes(4).toString('hex')}` },
        hugeBytes: 300 * 1024,
      });
      const cases = fc.sample(arbitrary, { numRuns: RUNS, seed: SEED + i });
      const result = await runCases(pool, name, cases, CONCURRENCY);
      tallies.push(result.tally);
      violations.push(...result.violations);
    }
    printFigures(tallies, Date.now() - started);
    mkdirSync('.data', { recursive: true });
    writeFileSync('.data/security-fuzz.json', JSON.stringify({ seed: SEED, runs: RUNS, tallies, violations }, null, 1));
    const shown = violations.slice(0, 25).map((v) => `${v.rule} — ${v.operation}\n    request:  ${v.request}\n    response: ${v.response}`);
    expect(violations.length, `${violations.length} violations (seed ${SEED}); first ones:\n${shown.join('\n')}`).toBe(0);
    for (const t of tallies) expect(t.tried, t.operation).toBeGreaterThanOrEqual(RUNS);
  }, 600_000);
});

function printFigures(tallies: Tally[], ms: number): void {
  const columns = ['endpoint', 'tried', 'valid', 'invalid', 'rejected', 'accepted', '5xx', 'ms'] as const;
  const rows = tallies.map((t) => [t.operation, t.tried, t.valid, t.invalid, t.rejected, t.accepted, t.serverErrors, t.ms].map(String));
  const sum = (k: keyof Tally) => tallies.reduce((n, t) => n + (t[k] as number), 0);
  rows.push(['TOTAL', sum('tried'), sum('valid'), sum('invalid'), sum('rejected'), sum('accepted'), sum('serverErrors'), sum('ms')].map(String));
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const kinds: Record<string, number> = {};
  for (const t of tallies) for (const [k, n] of Object.entries(t.byKind)) kinds[k] = (kinds[k] ?? 0) + n;
  console.log(
    [
      `\nsecurity fuzzing: ${tallies.length} operations, ${sum('tried')} requests in ${(ms / 1000).toFixed(1)} s (seed ${SEED})`,
      line(columns),
      ...rows.map(line),
      `by kind: ${Object.entries(kinds).map(([k, n]) => `${k} ${n}`).join(', ')}`,
    ].join('\n'),
  );
}

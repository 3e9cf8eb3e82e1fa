import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedPlatform } from '@emporium/launcher/embedded';
import { signUpCustomer, type Session } from '../support/auth';
import { call, expectProblem, show, startSecurityPlatform, type Answer } from './support/platform';

/**
 * ADR 0009: token buckets at the gateway per client address, per account and for sign-in per
 * address. Past the burst → 429 RATE_LIMITED with Retry-After in whole seconds. Platforms with
 * small limits; each limit on its own platform so one does not trip another.
 */
function expectLimited(res: Answer): void {
  expectProblem(res, 429);
  expect(res.json?.code).toBe('RATE_LIMITED');
  const retryAfter = res.headers.get('retry-after') ?? '';
  expect(retryAfter, 'Retry-After').toMatch(/^\d+$/);
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
}

/** Sends `n` requests one after another; returns the statuses and the first 429. */
async function burst(n: number, send: () => Promise<Answer>): Promise<{ statuses: number[]; limited?: Answer }> {
  const statuses: number[] = [];
  let limited: Answer | undefined;
  for (let i = 0; i < n; i++) {
    const res = await send();
    statuses.push(res.status);
    if (res.status === 429) limited ??= res;
  }
  return { statuses, limited };
}

describe('rate limits per account and for sign-in', () => {
  const ACCOUNT = { burst: 10, perSecond: 0.5 };
  const SIGN_IN = { burst: 4, perSecond: 0.05 };
  let platform: EmbeddedPlatform;
  let first: Session & { email: string; password: string };
  let second: Session;

  beforeAll(async () => {
    platform = await startSecurityPlatform({ rateLimits: { account: ACCOUNT, signIn: SIGN_IN } });
    first = await signUpCustomer(platform.url);
    second = await signUpCustomer(platform.url);
  }, 120_000);
  afterAll(() => platform?.stop(), 60_000);

  it(`when one account sends more than its burst of ${ACCOUNT.burst}, then 429 with Retry-After, while another account from the same address is still served`, async () => {
    const { statuses, limited } = await burst(ACCOUNT.burst + 6, () => call(platform.url, 'GET', '/api/orders', { headers: first.headers }));
    expect(statuses.slice(0, ACCOUNT.burst), statuses.join(' ')).toEqual(Array(ACCOUNT.burst).fill(200));
    expect(limited, statuses.join(' ')).toBeDefined();
    expectLimited(limited!);
    const other = await call(platform.url, 'GET', '/api/orders', { headers: second.headers });
    expect(other.status, show(other)).toBe(200);
  });

  it(`when sign-in attempts from one address exceed the burst of ${SIGN_IN.burst}, then 429 with Retry-After (guest sessions too)`, async () => {
    // Two sign-ups in the set-up took two of the burst.
    const { statuses, limited } = await burst(SIGN_IN.burst + 2, () => call(platform.url, 'POST', '/auth/signin', { body: { email: first.email, password: 'Wrong password 123' } }));
    expect(statuses.filter((s) => s === 401).length, statuses.join(' ')).toBeLessThanOrEqual(SIGN_IN.burst);
    expect(limited, statuses.join(' ')).toBeDefined();
    expectLimited(limited!);
    expect(statuses.slice(statuses.indexOf(429)).every((s) => s === 429), statuses.join(' ')).toBe(true);
    expectLimited(await call(platform.url, 'POST', '/auth/guest'));
    expectLimited(await call(platform.url, 'POST', '/auth/signup', { body: { email: 'late@example.test', password: 'Late comer pass 1', name: 'Late' } }));
    // The right password is no way around it either.
    expectLimited(await call(platform.url, 'POST', '/auth/signin', { body: { email: first.email, password: first.password } }));
  });
});

describe('rate limits per client address', () => {
  const CLIENT = { burst: 30, perSecond: 0.5 };
  let platform: EmbeddedPlatform;

  beforeAll(async () => {
    platform = await startSecurityPlatform({ rateLimits: { client: CLIENT } });
  }, 120_000);
  afterAll(() => platform?.stop(), 60_000);

  it(`when one address sends more than its burst of ${CLIENT.burst}, then 429 with Retry-After, X-Forwarded-For does not get around it, and after Retry-After it is served again`, async () => {
    const { statuses, limited } = await burst(CLIENT.burst + 10, () => call(platform.url, 'GET', '/products'));
    expect(statuses.slice(0, CLIENT.burst - 2).every((s) => s === 200), statuses.join(' ')).toBe(true);
    expect(limited, statuses.join(' ')).toBeDefined();
    expectLimited(limited!);
    for (const forwarded of ['10.1.2.3', '203.0.113.9, 10.0.0.1']) {
      expectLimited(await call(platform.url, 'GET', '/products', { headers: { 'x-forwarded-for': forwarded, 'x-real-ip': forwarded } }));
    }
    const wait = Number(limited!.headers.get('retry-after'));
    await new Promise((r) => setTimeout(r, wait * 1000 + 200));
    const again = await call(platform.url, 'GET', '/products');
    expect(again.status, show(again)).toBe(200);
  }, 30_000);
});

import { randomBytes } from 'node:crypto';

/**
 * Signing in through the gateway, as a store's clients do: a staff member, a new customer, a guest.
 * Every suite that calls the gateway uses these instead of its own copy.
 */

/** The first admin the test platforms create (startEmbedded `admin`, IDENTITY_ADMIN_* in distributed mode). */
export const TEST_ADMIN = { email: 'admin@emporium.test', password: 'correct horse battery staple 42' } as const;

export interface Session {
  /** `cus_…`, `gst_…` or `stf_…`. */
  id: string;
  accessToken: string;
  refreshToken: string;
  /** `{ authorization: 'Bearer …' }`, to spread into a request's headers. */
  headers: Record<string, string>;
}

async function post(url: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`POST ${path} answered ${res.status}: ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

const session = (id: string, pair: Record<string, unknown>): Session => {
  const accessToken = String(pair.accessToken);
  return { id, accessToken, refreshToken: String(pair.refreshToken), headers: { authorization: `Bearer ${accessToken}` } };
};

/** A staff session (the test admin unless other credentials are given). */
export async function signInStaff(url: string, credentials: { email: string; password: string } = TEST_ADMIN): Promise<Session> {
  const body = await post(url, '/auth/staff/signin', credentials);
  return session((body.staff as { id: string }).id, body);
}

/** A new customer with a unique email; `guestToken` merges that guest's cart into the customer's. */
export async function signUpCustomer(url: string, options: { email?: string; password?: string; name?: string; guestToken?: string } = {}): Promise<Session & { email: string; password: string }> {
  const email = options.email ?? `shopper-${randomBytes(6).toString('hex')}@example.test`;
  const password = options.password ?? `Shopper pass ${randomBytes(4).toString('hex')}`;
  const body = await post(url, '/auth/signup', { email, password, name: options.name ?? 'Test Shopper', ...(options.guestToken ? { guestToken: options.guestToken } : {}) });
  return { ...session((body.customer as { id: string }).id, body), email, password };
}

/** A guest shopper (a cart without an account). */
export async function guest(url: string): Promise<Session> {
  const body = await post(url, '/auth/guest', {});
  return session((body.guest as { id: string }).id, body);
}

/** Load and storm tests measure the platform, not the gateway's abuse limits: these turn them off. */
export const NO_RATE_LIMITS = { rateLimits: { client: false, account: false, signIn: false } } as const;
/** The same for a distributed gateway process (its environment). */
export const NO_RATE_LIMITS_ENV = { RATE_LIMIT_CLIENT: 'off', RATE_LIMIT_ACCOUNT: 'off', RATE_LIMIT_SIGN_IN: 'off' } as const;

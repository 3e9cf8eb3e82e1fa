import { describe, expect, it } from 'vitest';
import { ApiError, createApiClient, fieldSentence } from '../src/lib/api';
import { createSessionStore, memoryStorage, type Session } from '../src/lib/session';

interface Call {
  method: string;
  path: string;
  auth: string | null;
  body: unknown;
}

/** A scripted stand-in for the gateway: each handler answers one path. */
function fakeServer(handler: (call: Call) => { status: number; body?: unknown }) {
  const calls: Call[] = [];
  const fetchImpl = async (input: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    const call: Call = { method: init.method ?? 'GET', path: input, auth: headers.get('authorization'), body: init.body ? JSON.parse(String(init.body)) : undefined };
    calls.push(call);
    const answer = handler(call);
    return new Response(answer.body === undefined ? null : JSON.stringify(answer.body), {
      status: answer.status,
      headers: { 'content-type': answer.status >= 400 ? 'application/problem+json' : 'application/json' },
    });
  };
  return { calls, fetchImpl };
}

const guestSession: Session = { kind: 'guest', id: 'gst_1', accessToken: 'old.access.token', refreshToken: 'rt_old' };
const expired = { status: 401, body: { status: 401, code: 'AUTH.TOKEN_EXPIRED', detail: 'The access token has expired.' } };

describe('api client', () => {
  it('when there is no session yet, then a guest session is started and its token sent', async () => {
    const server = fakeServer((c) => (c.path === '/auth/guest' ? { status: 201, body: { accessToken: 'g.a.t', refreshToken: 'rt_g', guest: { id: 'gst_9' } } } : { status: 200, body: { ok: true } }));
    const store = createSessionStore(memoryStorage());
    const api = createApiClient({ store, fetch: server.fetchImpl });
    await api.request('GET', '/cart/gst_9');
    expect(server.calls.map((c) => c.path)).toEqual(['/auth/guest', '/cart/gst_9']);
    expect(server.calls[1]!.auth).toBe('Bearer g.a.t');
    expect(store.get()).toMatchObject({ kind: 'guest', id: 'gst_9' });
  });

  it('when the access token expired, then it is refreshed once and the call retried with the new one', async () => {
    const server = fakeServer((c) => {
      if (c.path === '/auth/refresh') return { status: 200, body: { accessToken: 'new.access.token', refreshToken: 'rt_new' } };
      return c.auth === 'Bearer new.access.token' ? { status: 200, body: { items: [] } } : expired;
    });
    const store = createSessionStore(memoryStorage());
    store.set(guestSession);
    const api = createApiClient({ store, fetch: server.fetchImpl });
    await expect(api.request('GET', '/api/orders')).resolves.toEqual({ items: [] });
    expect(server.calls.map((c) => c.path)).toEqual(['/api/orders', '/auth/refresh', '/api/orders']);
    expect(server.calls[1]!.body).toEqual({ refreshToken: 'rt_old' });
    expect(store.get()).toMatchObject({ id: 'gst_1', accessToken: 'new.access.token', refreshToken: 'rt_new' });
  });

  it('when several calls find the token expired at once, then only one refresh is made (a second would count as token theft)', async () => {
    const server = fakeServer((c) => {
      if (c.path === '/auth/refresh') return { status: 200, body: { accessToken: 'new.access.token', refreshToken: 'rt_new' } };
      return c.auth === 'Bearer new.access.token' ? { status: 200, body: {} } : expired;
    });
    const store = createSessionStore(memoryStorage());
    store.set(guestSession);
    const api = createApiClient({ store, fetch: server.fetchImpl });
    await Promise.all([api.request('GET', '/a'), api.request('GET', '/b'), api.request('GET', '/c')]);
    expect(server.calls.filter((c) => c.path === '/auth/refresh')).toHaveLength(1);
  });

  it('when the retried call is refused again, then it is not retried a second time', async () => {
    const server = fakeServer((c) => (c.path === '/auth/refresh' ? { status: 200, body: { accessToken: 'new.access.token', refreshToken: 'rt_new' } } : expired));
    const store = createSessionStore(memoryStorage());
    store.set(guestSession);
    const api = createApiClient({ store, fetch: server.fetchImpl });
    await expect(api.request('GET', '/x')).rejects.toMatchObject({ status: 401, code: 'AUTH.TOKEN_EXPIRED' });
    expect(server.calls.map((c) => c.path)).toEqual(['/x', '/auth/refresh', '/x']);
  });

  it('when the refresh token is dead too, then a new guest session starts and the old call is not replayed as someone else', async () => {
    const server = fakeServer((c) => {
      if (c.path === '/auth/refresh') return { status: 401, body: { status: 401, code: 'AUTH.INVALID_REFRESH_TOKEN' } };
      if (c.path === '/auth/guest') return { status: 201, body: { accessToken: 'g2.a.t', refreshToken: 'rt_g2', guest: { id: 'gst_2' } } };
      return expired;
    });
    const store = createSessionStore(memoryStorage());
    store.set({ kind: 'customer', id: 'cus_1', accessToken: 'c.a.t', refreshToken: 'rt_c', customer: { id: 'cus_1', email: 'a@b.c', name: 'A' } });
    const api = createApiClient({ store, fetch: server.fetchImpl });
    await expect(api.request('GET', '/cart/cus_1')).rejects.toBeInstanceOf(ApiError);
    expect(store.get()).toMatchObject({ kind: 'guest', id: 'gst_2' });
    expect(server.calls.filter((c) => c.path === '/cart/cus_1')).toHaveLength(1);
  });

  it('when a problem document comes back, then its detail and field errors are on the error', async () => {
    const server = fakeServer(() => ({ status: 422, body: { status: 422, code: 'CART.DISCOUNT_EXPIRED', detail: 'The code WINTER has expired.', errors: [{ field: 'code', message: 'has expired' }] } }));
    const store = createSessionStore(memoryStorage());
    store.set(guestSession);
    const api = createApiClient({ store, fetch: server.fetchImpl });
    const error = (await api.request('POST', '/cart/gst_1/discount', { body: { code: 'WINTER' } }).catch((e: unknown) => e)) as ApiError;
    expect(error.message).toBe('The code WINTER has expired.');
    expect(error.fieldMessage('code')).toBe('has expired');
  });

  it('when a guest signs in, then the guest token goes along so the cart is merged', async () => {
    const server = fakeServer(() => ({ status: 200, body: { accessToken: 'c.a.t', refreshToken: 'rt_c', customer: { id: 'cus_7', email: 'a@b.c', name: 'Ann' } } }));
    const store = createSessionStore(memoryStorage());
    store.set(guestSession);
    const api = createApiClient({ store, fetch: server.fetchImpl });
    const session = await api.signIn('a@b.c', 'long enough password');
    expect(server.calls[0]!.body).toEqual({ email: 'a@b.c', password: 'long enough password', guestToken: 'old.access.token' });
    expect(session).toMatchObject({ kind: 'customer', id: 'cus_7' });
  });

  it('when signing out, then the refresh token is revoked and a fresh guest session begins', async () => {
    const server = fakeServer((c) => (c.path === '/auth/signout' ? { status: 204 } : { status: 201, body: { accessToken: 'g3.a.t', refreshToken: 'rt_g3', guest: { id: 'gst_3' } } }));
    const store = createSessionStore(memoryStorage());
    store.set({ kind: 'customer', id: 'cus_1', accessToken: 'c.a.t', refreshToken: 'rt_c' });
    const api = createApiClient({ store, fetch: server.fetchImpl });
    await api.signOut();
    expect(server.calls.map((c) => [c.path, c.body])).toEqual([
      ['/auth/signout', { refreshToken: 'rt_c' }],
      ['/auth/guest', {}],
    ]);
    expect(store.get()).toMatchObject({ kind: 'guest', id: 'gst_3' });
  });

  it('when the network is down, then the error says so in words', async () => {
    const store = createSessionStore(memoryStorage());
    store.set(guestSession);
    const api = createApiClient({ store, fetch: () => Promise.reject(new TypeError('fetch failed')) });
    await expect(api.request('GET', '/products')).rejects.toMatchObject({ status: 0, message: expect.stringContaining('could not be reached') });
  });
});

describe('field messages', () => {
  it('when a service names a rule after the field, then the form shows a sentence without the rule code', () => {
    expect(fieldSentence('The password', 'must not be one or two characters repeated (rule: repeated_characters)')).toBe('The password must not be one or two characters repeated.');
    expect(fieldSentence('The password', 'Too short.')).toBe('Too short.');
  });
});

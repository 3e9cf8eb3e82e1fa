import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { createTestPlatform, emittedEvents, type TestPlatform } from '@emporium/platform/testing';
import { PRUNE_BATCH, type Db, type Service } from '@emporium/platform';
import { createIdentityService, createTokenVerifier } from '../src/service';
import { createIdentityStore } from '../src/store/identity.store';

const ADMIN = { email: 'root@emporium.test', password: 'Admin-Passw0rd-2025' };
const ISSUER = 'https://identity.test';
const AUDIENCE = 'emporium-test';

describe('identity over HTTP on the embedded database', () => {
  let platform: TestPlatform;
  let identity: Service;
  let db: Db;

  beforeAll(async () => {
    platform = await createTestPlatform();
    db = platform.deps('identity').db;
    // The expired-sessions test below runs the cleanup itself; the minute's maintenance must not race it.
    identity = await createIdentityService(platform.deps('identity'), { admin: ADMIN, issuer: ISSUER, audience: AUDIENCE, maintenanceIntervalMs: 3_600_000 });
    await identity.start();
  });
  afterAll(async () => {
    await identity.stop();
    await platform.close();
  });

  const post = (url: string, payload?: unknown, token?: string) =>
    identity.app.inject({
      method: 'POST',
      url,
      ...(payload === undefined ? {} : { payload: payload as object }),
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  const me = (token: string) => identity.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${token}` } });
  const count = async (sql: string, params: unknown[] = []) => (await db.query<{ n: number }>(sql, params)).rows[0]!.n;
  const verifier = async () =>
    createTokenVerifier({ jwks: (await identity.app.inject('/.well-known/jwks.json')).json(), issuer: ISSUER, audience: AUDIENCE });
  /** The problem document without the parts that name the request. */
  const shape = (res: { statusCode: number; headers: Record<string, unknown>; json(): Record<string, unknown> }) => {
    const { instance: _instance, ...body } = res.json();
    return { status: res.statusCode, type: res.headers['content-type'], body };
  };

  let n = 0;
  const newEmail = () => `shopper${++n}@example.com`;
  const PASSWORD = 'Correct-Horse-42';

  it('when a customer signs up, then 201 carries tokens and the customer, and the access token verifies against the JWKS', async () => {
    const res = await post('/auth/signup', { email: '  Ann.Lee@Example.COM ', password: PASSWORD, name: 'Ann Lee' });
    expect(res.statusCode).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(body.customer).toEqual({ id: expect.stringMatching(/^cus_/), email: 'ann.lee@example.com', name: 'Ann Lee', createdAt: expect.any(String) });
    expect(body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900, refreshToken: expect.stringMatching(/^rt_/) });
    expect(JSON.stringify(body)).not.toContain(PASSWORD);
    expect(decodeProtectedHeader(body.accessToken)).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) });
    const claims = decodeJwt(body.accessToken);
    expect(claims).toMatchObject({ sub: body.customer.id, typ: 'customer', iss: ISSUER, aud: AUDIENCE, jti: expect.any(String) });
    expect(claims.exp! - claims.iat!).toBe(900);
    const verified = await (await verifier()).verify(body.accessToken);
    expect(verified).toMatchObject({ subject: body.customer.id, type: 'customer', roles: [] });
    expect((await me(body.accessToken)).json()).toEqual({ type: 'customer', customer: body.customer });
  });

  it('when a customer signs in with the right password, then they get tokens for the same account', async () => {
    const email = newEmail();
    const { customer } = (await post('/auth/signup', { email, password: PASSWORD, name: 'Bo' })).json();
    const res = await post('/auth/signin', { email: email.toUpperCase(), password: PASSWORD });
    expect(res.statusCode).toBe(200);
    expect(res.json().customer).toEqual(customer);
  });

  it('when sign-in uses an unknown email or a wrong password, then the two answers are the same 401 and take as long', async () => {
    const email = newEmail();
    await post('/auth/signup', { email, password: PASSWORD, name: 'Cy' });
    const unknown = await post('/auth/signin', { email: 'nobody-here@example.com', password: PASSWORD });
    const wrong = await post('/auth/signin', { email, password: 'Wrong-Horse-42' });
    expect(unknown.statusCode).toBe(401);
    expect(shape(unknown)).toEqual(shape(wrong));
    expect(wrong.json()).toMatchObject({ code: 'AUTH.INVALID_CREDENTIALS' });

    const time = async (body: object) => {
      const runs: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        await post('/auth/signin', body);
        runs.push(performance.now() - started);
      }
      return runs.sort((a, b) => a - b)[2]!;
    };
    const [unknownMs, wrongMs] = [await time({ email: 'nobody-here@example.com', password: PASSWORD }), await time({ email, password: 'Wrong-Horse-42' })];
    expect(unknownMs / wrongMs).toBeGreaterThan(0.25);
    expect(unknownMs / wrongMs).toBeLessThan(4);
  });

  it('when someone signs up with an email that is taken, then the answer looks like any sign-up and the owner keeps their account', async () => {
    const email = newEmail();
    const owner = (await post('/auth/signup', { email, password: PASSWORD, name: 'Owner' })).json();
    const fresh = await post('/auth/signup', { email: newEmail(), password: 'Attacker-Pass-99', name: 'Mallory' });
    const taken = await post('/auth/signup', { email, password: 'Attacker-Pass-99', name: 'Mallory' });
    expect(taken.statusCode).toBe(fresh.statusCode);
    expect(Object.keys(taken.json()).sort()).toEqual(Object.keys(fresh.json()).sort());
    expect(taken.json().customer).toMatchObject({ email, name: 'Mallory' });
    expect(taken.json().customer.id).not.toBe(owner.customer.id);
    // The owner's account is untouched and the newcomer sees none of it.
    expect((await me(taken.json().accessToken)).json().customer.name).toBe('Mallory');
    const again = (await post('/auth/signin', { email, password: PASSWORD })).json();
    expect(again.customer).toEqual(owner.customer);
    // A repeated sign-up with the same email and password is a sign-in: no second account.
    const repeated = await post('/auth/signup', { email, password: PASSWORD, name: 'Someone else' });
    expect(repeated.statusCode).toBe(201);
    expect(repeated.json().customer).toEqual(owner.customer);
    expect(await count('SELECT count(*)::int AS n FROM customers WHERE email = $1', [email])).toBe(2);
  });

  it.each([
    ['short-1A', 'min_length'],
    [`Aa1-${'x'.repeat(125)}`, 'max_length'],
    ['abababababababab', 'repeated_characters'],
    ['12345678901', 'character_classes'],
    ['lowercaseonly', 'character_classes'],
    ['Password123', 'common_password'],
    ['qwertyuiop', 'common_password'],
  ])('when the password is %j, then 422 names the password and the rule %s, and nothing is written', async (password, rule) => {
    const email = newEmail();
    const res = await post('/auth/signup', { email, password, name: 'Weak' });
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ code: 'AUTH.WEAK_PASSWORD' });
    expect(res.json().errors).toContainEqual({ field: 'password', message: expect.stringContaining(`rule: ${rule}`) });
    expect(await count('SELECT count(*)::int AS n FROM customers WHERE email = $1', [email])).toBe(0);
  });

  it('when the password is the email, then 422 names the rule same_as_email', async () => {
    const res = await post('/auth/signup', { email: 'Zed.9@example.com', password: 'zed.9@example.com', name: 'Zed' });
    expect(res.statusCode).toBe(422);
    expect(res.json().errors).toContainEqual({ field: 'password', message: expect.stringContaining('rule: same_as_email') });
  });

  it('when the input is absurd or unknown, then 4xx problems name the field and nothing is written', async () => {
    const before = await count('SELECT count(*)::int AS n FROM customers');
    const cases = [
      [{ email: `${'a'.repeat(10_000)}@example.com`, password: PASSWORD, name: 'Big' }, 'email'],
      [{ email: 'not-an-email', password: PASSWORD, name: 'X' }, 'email'],
      [{ email: newEmail(), password: PASSWORD, name: 'X', isAdmin: true }, 'isAdmin'],
      [{ email: newEmail(), password: 'x'.repeat(5000), name: 'X' }, 'password'],
      [{ email: newEmail(), password: PASSWORD, name: '   ' }, 'name'],
      [{ email: newEmail(), password: PASSWORD, name: 'X', guestToken: 'garbage' }, 'guestToken'],
    ] as const;
    for (const [body, field] of cases) {
      const res = await post('/auth/signup', body);
      expect(res.statusCode, field).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, field).toBeLessThan(500);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json().errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    const malformed = await identity.app.inject({ method: 'POST', url: '/auth/signin', headers: { 'content-type': 'application/json' }, payload: '{"email":' });
    expect(malformed.json()).toMatchObject({ status: 400, code: 'REQUEST.MALFORMED_JSON' });
    expect((await post('/auth/refresh', { refreshToken: 'rt_short' })).json().errors[0].field).toBe('refreshToken');
    expect(await count('SELECT count(*)::int AS n FROM customers')).toBe(before);
  });

  it('when a refresh token is used, then a new pair comes back and the old token is dead', async () => {
    const first = (await post('/auth/signup', { email: newEmail(), password: PASSWORD, name: 'Di' })).json();
    const second = await post('/auth/refresh', { refreshToken: first.refreshToken });
    expect(second.statusCode).toBe(200);
    expect(second.json().refreshToken).not.toBe(first.refreshToken);
    expect((await me(second.json().accessToken)).json().customer.id).toBe(first.customer.id);
    const third = await post('/auth/refresh', { refreshToken: second.json().refreshToken });
    expect(third.statusCode).toBe(200);
  });

  it('when a rotated refresh token is reused, then the whole family is revoked, the latest token included', async () => {
    const first = (await post('/auth/signup', { email: newEmail(), password: PASSWORD, name: 'Ed' })).json();
    const second = (await post('/auth/refresh', { refreshToken: first.refreshToken })).json();
    const replay = await post('/auth/refresh', { refreshToken: first.refreshToken });
    expect(replay.statusCode).toBe(401);
    expect(replay.json()).toMatchObject({ code: 'AUTH.INVALID_REFRESH_TOKEN' });
    expect((await post('/auth/refresh', { refreshToken: second.refreshToken })).statusCode).toBe(401);
    expect(await count("SELECT count(*)::int AS n FROM refresh_families WHERE subject_id = $1 AND revoked_reason = 'reuse_detected'", [first.customer.id])).toBe(1);
  });

  it('when a customer signs out, then the refresh token no longer works', async () => {
    const session = (await post('/auth/signup', { email: newEmail(), password: PASSWORD, name: 'Flo' })).json();
    const out = await post('/auth/signout', { refreshToken: session.refreshToken });
    expect(out.statusCode).toBe(204);
    expect((await post('/auth/refresh', { refreshToken: session.refreshToken })).statusCode).toBe(401);
    expect((await post('/auth/signout', { refreshToken: session.refreshToken })).statusCode).toBe(204);
  });

  it('when the password changes, then every session of the account ends and only the new password signs in', async () => {
    const email = newEmail();
    const a = (await post('/auth/signup', { email, password: PASSWORD, name: 'Gus' })).json();
    const b = (await post('/auth/signin', { email, password: PASSWORD })).json();
    expect((await post('/auth/password', { currentPassword: PASSWORD, newPassword: 'Fresh-Horse-77' })).json()).toMatchObject({ status: 401, code: 'AUTH.MISSING_TOKEN' });
    const wrong = await post('/auth/password', { currentPassword: 'Not-The-Pass-1', newPassword: 'Fresh-Horse-77' }, a.accessToken);
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json().errors).toEqual([{ field: 'currentPassword', message: 'is not correct' }]);
    const weak = await post('/auth/password', { currentPassword: PASSWORD, newPassword: 'password123' }, a.accessToken);
    expect(weak.statusCode).toBe(422);
    expect(weak.json().errors[0].field).toBe('newPassword');

    const changed = await post('/auth/password', { currentPassword: PASSWORD, newPassword: 'Fresh-Horse-77' }, a.accessToken);
    expect(changed.statusCode).toBe(200);
    expect((await post('/auth/refresh', { refreshToken: a.refreshToken })).statusCode).toBe(401);
    expect((await post('/auth/refresh', { refreshToken: b.refreshToken })).statusCode).toBe(401);
    expect((await post('/auth/refresh', { refreshToken: changed.json().refreshToken })).statusCode).toBe(200);
    expect((await post('/auth/signin', { email, password: PASSWORD })).statusCode).toBe(401);
    expect((await post('/auth/signin', { email, password: 'Fresh-Horse-77' })).json().customer.id).toBe(a.customer.id);
  });

  it('when the service starts, then the first admin exists once, and a second start creates no other', async () => {
    const again = await createIdentityService(platform.deps('identity'), { admin: { ...ADMIN, password: 'Another-Admin-Pass-1' }, issuer: ISSUER, audience: AUDIENCE });
    await again.start();
    await again.stop();
    expect(await count('SELECT count(*)::int AS n FROM staff WHERE email = $1', [ADMIN.email])).toBe(1);
    const admin = await post('/auth/staff/signin', { email: ADMIN.email.toUpperCase(), password: ADMIN.password });
    expect(admin.statusCode).toBe(200);
    expect(admin.json().staff).toMatchObject({ id: expect.stringMatching(/^stf_/), email: ADMIN.email, roles: ['admin'] });
    expect(decodeJwt(admin.json().accessToken)).toMatchObject({ typ: 'staff', roles: ['admin'] });
    // Staff credentials are not customer credentials.
    expect((await post('/auth/signin', { email: ADMIN.email, password: ADMIN.password })).statusCode).toBe(401);
  });

  it('when an admin creates staff, then they sign in with their roles; other callers are refused', async () => {
    const admin = (await post('/auth/staff/signin', ADMIN)).json();
    const ops = { email: 'ops@emporium.test', password: 'Ops-Passw0rd-123', name: 'Olga', roles: ['operations'] };
    const created = await post('/auth/staff', ops, admin.accessToken);
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ email: ops.email, roles: ['operations'] });
    expect(JSON.stringify(created.json())).not.toContain(ops.password);
    expect((await post('/auth/staff', ops, admin.accessToken)).statusCode).toBe(409);

    const signedIn = (await post('/auth/staff/signin', { email: ops.email, password: ops.password })).json();
    expect(decodeJwt(signedIn.accessToken).roles).toEqual(['operations']);
    expect((await me(signedIn.accessToken)).json()).toMatchObject({ type: 'staff', staff: { roles: ['operations'] } });

    const other = { ...ops, email: 'support@emporium.test', roles: ['support'] };
    expect((await post('/auth/staff', other, signedIn.accessToken)).json()).toMatchObject({ status: 403, code: 'AUTH.FORBIDDEN' });
    const customer = (await post('/auth/signup', { email: newEmail(), password: PASSWORD, name: 'Cus' })).json();
    expect((await post('/auth/staff', other, customer.accessToken)).statusCode).toBe(403);
    expect((await post('/auth/staff', other)).statusCode).toBe(401);
    expect((await post('/auth/staff', { ...other, roles: ['owner'] }, admin.accessToken)).statusCode).toBe(400);
    expect(await count('SELECT count(*)::int AS n FROM staff WHERE email = $1', [other.email])).toBe(0);
  });

  it('when an admin retries creating staff with the same Idempotency-Key, then the first 201 comes back and one account exists', async () => {
    const admin = (await post('/auth/staff/signin', ADMIN)).json();
    const member = { email: 'packer@emporium.test', password: 'Packer-Passw0rd-7', name: 'Pat', roles: ['operations'] };
    const create = (body: object, key: string, token?: string) =>
      identity.app.inject({ method: 'POST', url: '/auth/staff', payload: body, headers: { 'idempotency-key': key, ...(token ? { authorization: `Bearer ${token}` } : {}) } });

    expect((await create(member, 'staff-key-1')).statusCode).toBe(401);
    const first = await create(member, 'staff-key-1', admin.accessToken);
    expect(first.statusCode).toBe(201);
    const again = await create(member, 'staff-key-1', admin.accessToken);
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    expect(await count('SELECT count(*)::int AS n FROM staff WHERE email = $1', [member.email])).toBe(1);

    const reused = await create({ ...member, name: 'Someone else' }, 'staff-key-1', admin.accessToken);
    expect(reused.statusCode).toBe(422);
    expect(reused.json()).toMatchObject({ code: 'IDEMPOTENCY.KEY_REUSED', errors: [{ field: 'idempotency-key' }] });
    // Without the key a repeat is the conflict it always was.
    expect((await post('/auth/staff', member, admin.accessToken)).statusCode).toBe(409);

    // The key belongs to the admin identity verified, and the unauthenticated try claimed nothing.
    const { rows } = await db.query<{ principal: string; request_hash: string }>('SELECT principal, request_hash FROM idempotency_requests WHERE key = $1', ['staff-key-1']);
    expect(rows).toEqual([{ principal: decodeJwt(admin.accessToken).sub, request_hash: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    // The body holds a password: the stored hash is keyed, not a SHA-256 anyone could recompute.
    const { createHash } = await import('node:crypto');
    const plain = createHash('sha256').update(`POST /auth/staff\n${JSON.stringify(Object.fromEntries(Object.entries(member).sort()))}`).digest('hex');
    expect(rows[0]!.request_hash).not.toBe(plain);
  });

  it('when a guest signs up with their guest token, then customer_signed_in in the outbox names the guest, once', async () => {
    const guest = await post('/auth/guest');
    expect(guest.statusCode).toBe(201);
    const { guest: { id: guestId }, accessToken: guestToken, refreshToken: guestRefresh } = guest.json();
    expect(guestId).toMatch(/^gst_/);
    expect(decodeJwt(guestToken)).toMatchObject({ sub: guestId, typ: 'guest' });
    expect((await me(guestToken)).json()).toEqual({ type: 'guest', guest: { id: guestId } });

    const email = newEmail();
    const signedUp = (await post('/auth/signup', { email, password: PASSWORD, name: 'Hal', guestToken })).json();
    const { rows } = await db.query<{ topic: string; key: string; payload: { data: unknown } }>(
      `SELECT topic, key, payload FROM ${emittedEvents('identity')} WHERE type = 'customer_signed_in' AND key = $1 ORDER BY seq`,
      [signedUp.customer.id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ topic: 'identity-events', payload: { data: { customerId: signedUp.customer.id, guestId, via: 'sign_up' } } });
    // The guest session ends with the claim; a second claim merges nothing.
    expect((await post('/auth/refresh', { refreshToken: guestRefresh })).statusCode).toBe(401);
    await post('/auth/signin', { email, password: PASSWORD, guestToken });
    const after = await db.query<{ payload: { data: { guestId: string | null; via: string } } }>(
      `SELECT payload FROM ${emittedEvents('identity')} WHERE type = 'customer_signed_in' AND key = $1 ORDER BY seq`,
      [signedUp.customer.id],
    );
    expect(after.rows.map((r) => r.payload.data)).toEqual([
      { customerId: signedUp.customer.id, guestId, via: 'sign_up' },
      { customerId: signedUp.customer.id, guestId: null, via: 'sign_in' },
    ]);
  });

  it('when the guest token is not a guest token, then sign-in answers 422 naming guestToken and writes nothing', async () => {
    const email = newEmail();
    const customer = (await post('/auth/signup', { email, password: PASSWORD, name: 'Ivy' })).json();
    const before = await count('SELECT count(*)::int AS n FROM refresh_families');
    const res = await post('/auth/signin', { email, password: PASSWORD, guestToken: customer.accessToken });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ code: 'AUTH.INVALID_GUEST_TOKEN', errors: [{ field: 'guestToken' }] });
    expect(await count('SELECT count(*)::int AS n FROM refresh_families')).toBe(before);
  });

  it('when the access token is missing, malformed or tampered, then /auth/me answers 401', async () => {
    const { accessToken } = (await post('/auth/signup', { email: newEmail(), password: PASSWORD, name: 'Jo' })).json();
    const [header, payload, signature] = accessToken.split('.');
    const forged = Buffer.from(JSON.stringify({ ...decodeJwt(accessToken), sub: 'cus_someone_else' })).toString('base64url');
    for (const token of [`${header}.${forged}.${signature}`, 'not.a.jwt', `${header}.${payload}.`]) {
      const res = await me(token);
      expect(res.statusCode, token).toBe(401);
      expect(res.json().code).toBe('AUTH.INVALID_TOKEN');
    }
    expect((await identity.app.inject('/auth/me')).json()).toMatchObject({ status: 401, code: 'AUTH.MISSING_TOKEN' });
  });

  it('when the OpenAPI document is read, then every identity route is in it', async () => {
    const res = await identity.app.inject('/docs/json');
    expect(res.statusCode).toBe(200);
    expect(Object.keys(res.json().paths)).toEqual(
      expect.arrayContaining(['/auth/signup', '/auth/signin', '/auth/guest', '/auth/refresh', '/auth/signout', '/auth/password', '/auth/me', '/auth/staff', '/auth/staff/signin', '/.well-known/jwks.json']),
    );
  });

  it('when secrets are stored, then passwords are argon2id hashes, refresh tokens digests and private keys sealed', async () => {
    const session = (await post('/auth/signup', { email: newEmail(), password: PASSWORD, name: 'Kim' })).json();
    const { rows: customers } = await db.query<{ password_hash: string }>('SELECT password_hash FROM customers WHERE id = $1', [session.customer.id]);
    expect(customers[0]!.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await count('SELECT count(*)::int AS n FROM refresh_tokens WHERE token_hash = $1', [session.refreshToken])).toBe(0);
    const { rows: keys } = await db.query<{ private_key: string }>('SELECT private_key FROM signing_keys');
    for (const key of keys) {
      expect(key.private_key).toMatch(/^v1\./);
      expect(key.private_key).not.toContain('PRIVATE KEY');
    }
  });

  const NOW = new Date('2026-12-07T12:00:00Z');
  const hour = (h: number) => new Date(NOW.getTime() + h * 3_600_000);
  /** A family of one guest's sign-in and its refresh tokens, each expiring at the given time. */
  const family = async (id: string, expiries: Date[]) => {
    await db.query("INSERT INTO refresh_families (id, subject_type, subject_id, created_at) VALUES ($1, 'guest', $2, $3)", [id, `gst_${id}`, hour(-48)]);
    for (const [i, expiresAt] of expiries.entries()) {
      await db.query('INSERT INTO refresh_tokens (token_hash, family_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)', [`${id}-${i}`, id, hour(-48), expiresAt]);
    }
  };
  const ids = async (sql: string) => (await db.query<{ id: string }>(sql)).rows.map((r) => r.id).sort();

  it('when refresh tokens expire, then they are deleted with the families they leave without a token, and a family with a live token stays', async () => {
    await family('ended', [hour(-1)]);
    await family('rotated', [hour(-2), hour(+24)]);
    await family('live', [hour(+1)]);
    // More expired sessions than one batch deletes.
    await db.query(
      `WITH f AS (INSERT INTO refresh_families (id, subject_type, subject_id, created_at) SELECT 'old-' || i, 'guest', 'gst_old-' || i, $2 FROM generate_series(1, $1::int) i RETURNING id)
       INSERT INTO refresh_tokens (token_hash, family_id, issued_at, expires_at) SELECT id || '-0', id, $2, $3 FROM f`,
      [PRUNE_BATCH + 500, hour(-48), hour(-3)],
    );

    expect(await createIdentityStore(db, 'identity').deleteExpired(NOW)).toBe(PRUNE_BATCH + 502);

    expect(await ids("SELECT id FROM refresh_families WHERE id IN ('ended', 'rotated', 'live') OR id LIKE 'old-%'")).toEqual(['live', 'rotated']);
    expect(await ids("SELECT token_hash AS id FROM refresh_tokens WHERE family_id IN ('ended', 'rotated', 'live') OR family_id LIKE 'old-%'")).toEqual(['live-0', 'rotated-1']);
    expect(await createIdentityStore(db, 'identity').deleteExpired(NOW)).toBe(0);
  });
});

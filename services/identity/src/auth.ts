import { timingSafeEqual } from 'node:crypto';
import {
  EmailAddress,
  type ChangePasswordRequest,
  type CreateStaffRequest,
  type Customer,
  type CustomerSession,
  type GuestSession,
  type Me,
  type SignInRequest,
  type SignUpRequest,
  type StaffMember,
  type StaffSession,
  type StaffSignInRequest,
  type TokenPair,
} from '@emporium/contracts';
import { AppError, invalid, type Logger, type Sql } from '@emporium/platform';
import { checkPassword } from './domain/password-policy';
import type { PasswordHasher } from './domain/passwords';
import { customerSignedIn } from './domain/events';
import { digestRefreshToken, newId, newRefreshToken, type Principal, type TokenLifetimes } from './domain/tokens';
import type { TokenIssuer } from './keys/token-issuer';
import type { IdentityStore } from './store/identity.store';
import type { TokenVerifier, VerifiedToken } from './verify';

export interface AuthOptions {
  store: IdentityStore;
  hasher: PasswordHasher;
  issuer: TokenIssuer;
  verifier: TokenVerifier;
  lifetimes: TokenLifetimes;
  now: () => Date;
  logger: Logger;
}

const invalidCredentials = () =>
  new AppError('AUTH.INVALID_CREDENTIALS', 'The email or password is not correct.', { status: 401 });

const invalidRefreshToken = () =>
  new AppError('AUTH.INVALID_REFRESH_TOKEN', 'The refresh token is not valid; sign in again.', { status: 401 });

const forbidden = (detail: string) => new AppError('AUTH.FORBIDDEN', detail, { status: 403 });

const weakPassword = (password: string, email: string, field: string) => {
  const errors = checkPassword(password, email, field);
  if (errors.length > 0) throw invalid('AUTH.WEAK_PASSWORD', 'The password does not meet the password rules.', errors);
};

const sameHash = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * The identity use cases. Every path that checks a password costs exactly one argon2id run,
 * whether or not the email is known; failures never say which part was wrong.
 */
export function createAuth(options: AuthOptions) {
  const { store, hasher, issuer, verifier, lifetimes, now, logger } = options;

  /** Writes a new refresh family in `tx`; the access token is signed after commit (signing reads the key table). */
  const startSession = async (tx: Sql, principal: Principal, at: Date): Promise<string> => {
    const refreshToken = newRefreshToken();
    await store.startFamily(tx, {
      familyId: newId('rtf'),
      subjectType: principal.type,
      subjectId: principal.id,
      tokenHash: digestRefreshToken(refreshToken),
      now: at,
      expiresAt: new Date(at.getTime() + lifetimes.refreshSeconds * 1000),
    });
    return refreshToken;
  };

  const pair = async (principal: Principal, refreshToken: string): Promise<TokenPair> => ({
    tokenType: 'Bearer',
    ...(await issuer.issue(principal)),
    refreshToken,
    refreshExpiresIn: lifetimes.refreshSeconds,
  });

  /** The guest whose cart is to be claimed; a token that is not a live guest token is a 422. */
  const guestOf = async (guestToken: string | undefined): Promise<string | null> => {
    if (guestToken === undefined) return null;
    const token = await verifier.verify(guestToken).catch(() => undefined);
    if (token?.type !== 'guest') {
      throw invalid('AUTH.INVALID_GUEST_TOKEN', 'The guest token is not a valid, unexpired guest access token.', [
        { field: 'guestToken', message: 'must be a valid guest access token' },
      ]);
    }
    return token.subject;
  };

  /** Session, guest claim and event in one transaction. */
  const customerSession = async (
    tx: Sql,
    customer: Customer,
    guestId: string | null,
    via: 'sign_up' | 'sign_in',
    at: Date,
    correlationId?: string,
  ) => {
    const refreshToken = await startSession(tx, { type: 'customer', id: customer.id }, at);
    let claimed: string | null = null;
    if (guestId && (await store.claimGuest(tx, guestId, customer.id, at))) {
      claimed = guestId;
      await store.revokeSubject(tx, guestId, at, 'guest_claimed');
    }
    await store.writeEvents(tx, [customerSignedIn(customer.id, claimed, via)], correlationId);
    return refreshToken;
  };

  const requireAccount = <T>(account: T | undefined): T => {
    if (!account) throw new AppError('AUTH.INVALID_TOKEN', 'The account of this token no longer exists.', { status: 401 });
    return account;
  };

  return {
    /** The verified token of an `Authorization` header's bearer token. */
    authenticate: (token: string): Promise<VerifiedToken> => verifier.verify(token),

    /**
     * Sign-up never reveals whether the email is known: the same email and password lead to the
     * same account (a repeated sign-up is a sign-in), any other password to a new account of its own.
     */
    async signUp(request: SignUpRequest, correlationId?: string): Promise<{ session: CustomerSession; created: boolean }> {
      weakPassword(request.password, request.email, 'password');
      const guestId = await guestOf(request.guestToken);
      const passwordHash = await hasher.hash(request.email, request.password);
      const at = now();
      const result = await store.transaction(async (tx) => {
        const id = newId('cus');
        const created = await store.insertCustomer(tx, { id, email: request.email, name: request.name, passwordHash, now: at });
        const found = await store.customerByCredentials(tx, request.email, passwordHash);
        const customer = found!.account;
        const refreshToken = await customerSession(tx, customer, guestId, created ? 'sign_up' : 'sign_in', at, correlationId);
        return { customer, refreshToken, created };
      });
      const tokens = await pair({ type: 'customer', id: result.customer.id }, result.refreshToken);
      return { session: { ...tokens, customer: result.customer }, created: result.created };
    },

    async signIn(request: SignInRequest, correlationId?: string): Promise<CustomerSession> {
      const guestId = await guestOf(request.guestToken);
      const passwordHash = await hasher.hash(request.email, request.password);
      const at = now();
      const result = await store.transaction(async (tx) => {
        const found = await store.customerByCredentials(tx, request.email, passwordHash);
        if (!found) return undefined;
        return { customer: found.account, refreshToken: await customerSession(tx, found.account, guestId, 'sign_in', at, correlationId) };
      });
      if (!result) throw invalidCredentials();
      return { ...(await pair({ type: 'customer', id: result.customer.id }, result.refreshToken)), customer: result.customer };
    },

    async staffSignIn(request: StaffSignInRequest): Promise<StaffSession> {
      const passwordHash = await hasher.hash(request.email, request.password);
      const at = now();
      const result = await store.transaction(async (tx) => {
        const found = await store.staffByCredentials(tx, request.email, passwordHash);
        if (!found) return undefined;
        return { staff: found.account, refreshToken: await startSession(tx, { type: 'staff', id: found.account.id }, at) };
      });
      if (!result) throw invalidCredentials();
      const { staff } = result;
      return { ...(await pair({ type: 'staff', id: staff.id, roles: staff.roles }, result.refreshToken)), staff };
    },

    async startGuest(): Promise<GuestSession> {
      const guest = { id: newId('gst') };
      const refreshToken = await store.transaction((tx) => startSession(tx, { type: 'guest', id: guest.id }, now()));
      return { ...(await pair({ type: 'guest', id: guest.id }, refreshToken)), guest };
    },

    /** A new pair for a live refresh token; the old one is dead. Reusing a dead one ends its whole family. */
    async refresh(refreshToken: string): Promise<TokenPair> {
      const oldHash = digestRefreshToken(refreshToken);
      const at = now();
      const outcome = await store.transaction(async (tx) => {
        const row = await store.refreshTokenForUpdate(tx, oldHash);
        if (!row || row.revoked_at) return { ok: false as const };
        if (row.rotated_at) {
          await store.revokeFamily(tx, row.family_id, at, 'reuse_detected');
          logger.warn({ familyId: row.family_id, subjectId: row.subject_id }, 'refresh token reused: session family revoked');
          return { ok: false as const };
        }
        if (row.expires_at.getTime() <= at.getTime()) return { ok: false as const };
        let principal: Principal | undefined;
        if (row.subject_type === 'customer') principal = (await store.customerById(tx, row.subject_id)) && { type: 'customer', id: row.subject_id };
        else if (row.subject_type === 'staff') {
          const staff = await store.staffById(tx, row.subject_id);
          principal = staff && { type: 'staff', id: staff.account.id, roles: staff.account.roles };
        } else principal = { type: 'guest', id: row.subject_id };
        if (!principal) {
          await store.revokeFamily(tx, row.family_id, at, 'account_gone');
          return { ok: false as const };
        }
        const next = newRefreshToken();
        await store.rotateToken(tx, {
          oldHash,
          familyId: row.family_id,
          newHash: digestRefreshToken(next),
          now: at,
          expiresAt: new Date(at.getTime() + lifetimes.refreshSeconds * 1000),
        });
        return { ok: true as const, principal, refreshToken: next };
      });
      if (!outcome.ok) throw invalidRefreshToken();
      return pair(outcome.principal, outcome.refreshToken);
    },

    /** Ends the session the refresh token belongs to. Unknown tokens are fine: the outcome is the same. */
    async signOut(refreshToken: string): Promise<void> {
      await store.transaction(async (tx) => {
        const row = await store.refreshTokenForUpdate(tx, digestRefreshToken(refreshToken));
        if (row) await store.revokeFamily(tx, row.family_id, now(), 'signed_out');
      });
    },

    /** Changes the password, ends every session of the account and starts a new one for this device. */
    async changePassword(token: VerifiedToken, request: ChangePasswordRequest): Promise<TokenPair> {
      if (token.type === 'guest') throw forbidden('Guests have no password.');
      const type = token.type;
      const load = (sql: Sql, lock = false) =>
        type === 'customer' ? store.customerById(sql, token.subject, { lock }) : store.staffById(sql, token.subject, { lock });
      const stored = requireAccount(await load(store.read));
      const { account } = stored;
      const currentHash = await hasher.hash(account.email, request.currentPassword);
      if (!sameHash(currentHash, stored.passwordHash)) {
        throw new AppError('AUTH.INVALID_CREDENTIALS', 'The current password is not correct.', {
          status: 403,
          errors: [{ field: 'currentPassword', message: 'is not correct' }],
        });
      }
      weakPassword(request.newPassword, account.email, 'newPassword');
      if (request.newPassword === request.currentPassword) {
        throw invalid('AUTH.WEAK_PASSWORD', 'The new password must differ from the current one.', [
          { field: 'newPassword', message: 'must differ from the current password (rule: same_as_current)' },
        ]);
      }
      const newHash = await hasher.hash(account.email, request.newPassword);
      const at = now();
      const refreshToken = await store.transaction(async (tx) => {
        const locked = requireAccount(await load(tx, true));
        if (!sameHash(locked.passwordHash, stored.passwordHash)) throw invalidCredentials();
        if (!(await store.setPassword(tx, type, token.subject, newHash, at))) {
          throw invalid('AUTH.WEAK_PASSWORD', 'Choose another password.', [{ field: 'newPassword', message: 'cannot be used; choose another (rule: unavailable)' }]);
        }
        const revoked = await store.revokeSubject(tx, token.subject, at, 'password_changed');
        logger.info({ subjectId: token.subject, revoked }, 'password changed: sessions revoked');
        return startSession(tx, { type, id: token.subject, roles: token.roles }, at);
      });
      const roles = type === 'staff' ? (stored.account as StaffMember).roles : undefined;
      return pair({ type, id: token.subject, roles }, refreshToken);
    },

    /** Admins only: a new staff account (409 when the email is taken: only admins can ask). */
    async createStaff(token: VerifiedToken, request: CreateStaffRequest): Promise<StaffMember> {
      if (token.type !== 'staff' || !token.roles.includes('admin')) throw forbidden('Only an admin can create staff accounts.');
      const admin = await store.staffById(store.read, token.subject);
      if (!admin?.account.roles.includes('admin')) throw forbidden('Only an admin can create staff accounts.');
      weakPassword(request.password, request.email, 'password');
      const passwordHash = await hasher.hash(request.email, request.password);
      const staff: StaffMember = { id: newId('stf'), email: request.email, name: request.name, roles: request.roles, createdAt: now().toISOString() };
      const created = await store.transaction((tx) => store.insertStaff(tx, { ...staff, passwordHash, now: new Date(staff.createdAt) }));
      if (!created) {
        throw new AppError('AUTH.STAFF_EXISTS', `A staff account with email ${request.email} already exists.`, {
          status: 409,
          errors: [{ field: 'email', message: 'is already used by a staff account' }],
        });
      }
      logger.info({ staffId: staff.id, roles: staff.roles, by: token.subject }, 'staff account created');
      return staff;
    },

    async me(token: VerifiedToken): Promise<Me> {
      if (token.type === 'guest') return { type: 'guest', guest: { id: token.subject } };
      return token.type === 'customer'
        ? { type: 'customer', customer: requireAccount(await store.customerById(store.read, token.subject)).account }
        : { type: 'staff', staff: requireAccount(await store.staffById(store.read, token.subject)).account };
    },

    /** The first admin, created once: an existing staff account with that email is left as it is. */
    async ensureFirstAdmin(email: string, password: string): Promise<void> {
      const parsed = EmailAddress.safeParse(email);
      if (!parsed.success) throw new Error('IDENTITY_ADMIN_EMAIL is not a valid email address');
      const problems = checkPassword(password, parsed.data, 'IDENTITY_ADMIN_PASSWORD');
      if (problems.length > 0) throw new Error(`IDENTITY_ADMIN_PASSWORD is too weak: ${problems.map((p) => p.message).join('; ')}`);
      const passwordHash = await hasher.hash(parsed.data, password);
      const at = now();
      const created = await store.transaction((tx) =>
        store.insertStaff(tx, { id: newId('stf'), email: parsed.data, name: 'Administrator', roles: ['admin'], passwordHash, now: at }),
      );
      if (created) logger.info({ email: parsed.data }, 'first admin created');
    },
  };
}

export type Auth = ReturnType<typeof createAuth>;

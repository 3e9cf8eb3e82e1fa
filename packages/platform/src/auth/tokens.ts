import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { AccessTokenClaims, type PrincipalType, type StaffRole } from '@emporium/contracts';
import { AppError } from '../errors';

/** The only algorithm Emporium signs with; anything else (`none`, HS256, RS256…) is refused. */
export const ACCESS_TOKEN_ALG = 'ES256';
/** JWT `typ` header of access tokens (RFC 9068), so no other kind of JWT passes for one. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

export interface TokenVerifierOptions {
  /** Where identity publishes its keys, e.g. `http://127.0.0.1:4001/.well-known/jwks.json`. */
  jwksUrl?: string | URL;
  /** Or the keys themselves (or a function that reads them, as identity does for itself). */
  jwks?: JSONWebKeySet | (() => Promise<JSONWebKeySet>);
  issuer: string;
  audience: string;
  /** Allowed clock difference between identity and the verifier. Default 5 s. */
  clockToleranceSeconds?: number;
  /** With `jwksUrl`: the least time between two fetches prompted by an unknown `kid`. Default 5 s. */
  refetchCooldownMs?: number;
  /** The verifier's clock (tests). */
  now?: () => Date;
}

/** Who an access token speaks for, once its signature, algorithm, issuer, audience and expiry are checked. */
export interface VerifiedToken {
  subject: string;
  type: PrincipalType;
  roles: StaffRole[];
  tokenId: string;
  expiresAt: Date;
  claims: AccessTokenClaims;
}

export interface TokenVerifier {
  /** Resolves to the token's principal, or rejects with a 401 AppError (`AUTH.TOKEN_EXPIRED` or `AUTH.INVALID_TOKEN`). */
  verify(token: string): Promise<VerifiedToken>;
}

const invalidToken = (detail: string, cause?: unknown) => new AppError('AUTH.INVALID_TOKEN', detail, { status: 401, cause });

/**
 * Verifies Emporium access tokens offline against identity's JWKS. With `jwksUrl` the keys are
 * fetched and cached; a token with an unknown `kid` triggers a refetch (at most every 5 s), so a
 * freshly rotated key is picked up without a restart.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const getKey = keySource(options);
  const tolerance = options.clockToleranceSeconds ?? 5;
  return {
    async verify(token) {
      if (typeof token !== 'string' || token.length > 4096 || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) {
        throw invalidToken('The access token is not a signed JWT.');
      }
      let payload: unknown;
      try {
        ({ payload } = await jwtVerify(token, await getKey(), {
          algorithms: [ACCESS_TOKEN_ALG],
          typ: ACCESS_TOKEN_TYP,
          issuer: options.issuer,
          audience: options.audience,
          requiredClaims: ['sub', 'iat', 'exp', 'jti'],
          clockTolerance: tolerance,
          ...(options.now ? { currentDate: options.now() } : {}),
        }));
      } catch (error) {
        if (error instanceof errors.JWTExpired) throw new AppError('AUTH.TOKEN_EXPIRED', 'The access token has expired; refresh it.', { status: 401, cause: error });
        if (error instanceof errors.JWKSTimeout) throw new AppError('AUTH.KEYS_UNAVAILABLE', 'The signing keys could not be fetched; try again.', { status: 503, cause: error });
        if (error instanceof errors.JOSEError) throw invalidToken(`The access token is not valid (${error.code}).`, error);
        throw error;
      }
      const claims = AccessTokenClaims.safeParse(payload);
      if (!claims.success) throw invalidToken('The access token does not carry valid claims.');
      const { sub, typ, roles = [], jti, exp } = claims.data;
      const prefix = { customer: 'cus_', staff: 'stf_', guest: 'gst_' }[typ];
      if (!sub.startsWith(prefix) || (typ === 'staff') !== roles.length > 0) throw invalidToken('The access token does not carry valid claims.');
      return { subject: sub, type: typ, roles, tokenId: jti, expiresAt: new Date(exp * 1000), claims: claims.data };
    },
  };
}

function keySource(options: TokenVerifierOptions): () => Promise<JWTVerifyGetKey> {
  if (options.jwksUrl) {
    const remote = createRemoteJWKSet(new URL(options.jwksUrl), { cooldownDuration: options.refetchCooldownMs ?? 5_000, cacheMaxAge: 60_000, timeoutDuration: 5_000 });
    return async () => remote;
  }
  const { jwks } = options;
  if (!jwks) throw new Error('createTokenVerifier needs jwksUrl or jwks');
  if (typeof jwks === 'function') return async () => createLocalJWKSet(await jwks());
  const local = createLocalJWKSet(jwks);
  return async () => local;
}

/** The token of an `Authorization: Bearer …` header, or a 401 problem when there is none. */
export function bearerToken(authorization: string | string[] | undefined): string {
  const match = typeof authorization === 'string' ? /^Bearer +([^\s]+) *$/i.exec(authorization) : null;
  if (!match?.[1]) throw missingToken();
  return match[1];
}

/** The 401 problem for a request that needs an access token and has none. */
export const missingToken = (): AppError =>
  new AppError('AUTH.MISSING_TOKEN', 'Send an access token as "Authorization: Bearer <token>".', {
    status: 401,
    extensions: { wwwAuthenticate: 'Bearer' },
  });

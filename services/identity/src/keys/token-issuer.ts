import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Principal } from '../domain/tokens';
import { ACCESS_TOKEN_ALG, ACCESS_TOKEN_TYP } from '../verify';
import type { KeyRing } from './key-ring';

export interface TokenIssuerOptions {
  ring: KeyRing;
  issuer: string;
  audience: string;
  accessSeconds: number;
  now: () => Date;
}

export interface TokenIssuer {
  /** A signed access token for `principal` and its lifetime in seconds. */
  issue(principal: Principal): Promise<{ accessToken: string; expiresIn: number }>;
}

export function createTokenIssuer(options: TokenIssuerOptions): TokenIssuer {
  return {
    async issue(principal) {
      const { kid, key } = await options.ring.signingKey();
      const iat = Math.floor(options.now().getTime() / 1000);
      const accessToken = await new SignJWT({ typ: principal.type, ...(principal.type === 'staff' ? { roles: principal.roles ?? [] } : {}) })
        .setProtectedHeader({ alg: ACCESS_TOKEN_ALG, kid, typ: ACCESS_TOKEN_TYP })
        .setSubject(principal.id)
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setIssuedAt(iat)
        .setExpirationTime(iat + options.accessSeconds)
        .setJti(randomUUID())
        .sign(key);
      return { accessToken, expiresIn: options.accessSeconds };
    },
  };
}

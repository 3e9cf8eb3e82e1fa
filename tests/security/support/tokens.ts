import { createDecipheriv, createPublicKey, randomBytes, randomUUID } from 'node:crypto';
import { importPKCS8, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import type { EmbeddedPlatform } from '@emporium/launcher/embedded';

/**
 * Tokens for the token suite. The platform is started with a key-encryption key the test knows,
 * so the test can unseal identity's own signing key and sign tokens that differ from a real one in
 * exactly one way (expired, another issuer, another audience, another `typ`).
 */
export const KEY_ENCRYPTION_KEY = randomBytes(32).toString('base64');

/** identity's active signing key, unsealed (AES-256-GCM, `v1.<iv>.<tag>.<body>`, the kid bound as associated data). */
export async function identitySigningKey(platform: EmbeddedPlatform): Promise<{ kid: string; key: CryptoKey }> {
  const { rows } = await platform.pglite.query<{ kid: string; private_key: string }>(
    'SELECT kid, private_key FROM identity.signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1',
  );
  const row = rows[0];
  if (!row) throw new Error('identity has no signing key yet (sign someone in first)');
  const [, iv, tag, body] = row.private_key.split('.');
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(KEY_ENCRYPTION_KEY, 'base64'), Buffer.from(iv!, 'base64url'));
  decipher.setAAD(Buffer.from(`emporium-identity:signing-key:${row.kid}`));
  decipher.setAuthTag(Buffer.from(tag!, 'base64url'));
  const pem = Buffer.concat([decipher.update(Buffer.from(body!, 'base64url')), decipher.final()]).toString('utf8');
  return { kid: row.kid, key: await importPKCS8(pem, 'ES256') };
}

export const ISSUER = 'https://emporium.dev/identity';
export const AUDIENCE = 'emporium';

/** Claims like identity's for `subject` (a customer unless `typ` says otherwise), overridable one by one. */
export function claimsFor(subject: string, overrides: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return { sub: subject, typ: subject.startsWith('stf_') ? 'staff' : subject.startsWith('gst_') ? 'guest' : 'customer', iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 600, jti: randomUUID(), ...overrides };
}

export async function sign(claims: JWTPayload, key: CryptoKey | Uint8Array, header: { alg: string; kid?: string; typ?: string }): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ typ: 'at+jwt', ...header }).sign(key);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const parts = (token: string) => token.split('.') as [string, string, string];
export const decodePart = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;

/** The same token with its payload changed and the original signature kept. */
export function tamper(token: string, change: (claims: Record<string, unknown>) => Record<string, unknown>): string {
  const [header, payload, signature] = parts(token);
  return `${header}.${b64(change(decodePart(payload)))}.${signature}`;
}

/** `alg: none`: the real token's claims, no signature. */
export function unsigned(token: string): string {
  const [header, payload] = parts(token);
  return `${b64({ ...decodePart(header), alg: 'none' })}.${payload}.`;
}

/** The public key as PEM, for the HS256 key-confusion attack. */
export function publicPem(jwk: Record<string, unknown>): string {
  return createPublicKey({ key: jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
}

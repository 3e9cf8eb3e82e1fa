import { z } from 'zod';
import { loadConfig } from '@emporium/platform';

/** The identity service's own environment keys (besides the platform's). */
export const identityConfig = z.object({
  NODE_ENV: z.string().default('development').describe('in `production` IDENTITY_KEY_ENCRYPTION_KEY is required'),
  IDENTITY_ISSUER: z.string().min(1).default('https://emporium.dev/identity').describe('`iss` of every token'),
  IDENTITY_AUDIENCE: z.string().min(1).default('emporium').describe('`aud` of every token'),
  IDENTITY_ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(3600).default(900).describe('lifetime of access tokens'),
  IDENTITY_REFRESH_TOKEN_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(30).describe('lifetime of each refresh token (a refresh issues a new one)'),
  IDENTITY_KEY_ROTATION_HOURS: z.coerce.number().positive().max(24 * 365).default(24).describe('a new signing key every this many hours'),
  IDENTITY_KEY_ENCRYPTION_KEY: z
    .string()
    .regex(/^(?:[A-Za-z0-9+/]{43}=|[0-9a-fA-F]{64})$/, 'must be 32 bytes as base64 or hex')
    .optional()
    .describe('AES-256 key that encrypts signing keys at rest; generated and kept in the database when unset (embedded mode only)'),
  IDENTITY_ADMIN_EMAIL: z.string().optional().describe('first admin, created at start if no staff has that email'),
  IDENTITY_ADMIN_PASSWORD: z.string().optional().describe('password of the first admin (only used when it is created)'),
});

export type IdentityConfig = z.infer<typeof identityConfig>;

export const loadIdentityConfig = (env: NodeJS.ProcessEnv = process.env): IdentityConfig => loadConfig(identityConfig, env);

/** 32 bytes from the base64 or hex form of IDENTITY_KEY_ENCRYPTION_KEY. */
export const decodeKeyEncryptionKey = (text: string): Buffer =>
  /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');

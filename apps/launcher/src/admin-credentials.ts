import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface AdminCredentials {
  email: string;
  password: string;
  /** Where they are kept, when they were generated rather than given. */
  file?: string;
}

/**
 * The first admin of a local installation: IDENTITY_ADMIN_EMAIL / IDENTITY_ADMIN_PASSWORD when set;
 * otherwise generated once and kept in the data folder (readable by its owner only), so a laptop
 * install has an admin without a default password that every installation would share.
 */
export function adminCredentials(dataDir: string, env: NodeJS.ProcessEnv = process.env): AdminCredentials {
  if (env.IDENTITY_ADMIN_EMAIL && env.IDENTITY_ADMIN_PASSWORD) return { email: env.IDENTITY_ADMIN_EMAIL, password: env.IDENTITY_ADMIN_PASSWORD };
  const file = join(dataDir, 'admin.json');
  if (existsSync(file)) return { ...(JSON.parse(readFileSync(file, 'utf8')) as { email: string; password: string }), file };
  const credentials = { email: 'admin@emporium.local', password: randomBytes(18).toString('base64url') };
  writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  return { ...credentials, file };
}

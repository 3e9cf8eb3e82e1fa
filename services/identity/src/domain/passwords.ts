import { createHmac } from 'node:crypto';
import { hash } from '@node-rs/argon2';

/** argon2id with OWASP's recommended parameters (19 MiB, 2 passes, 1 lane). */
const ARGON2ID = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export interface PasswordHasher {
  /**
   * The argon2id hash of `password` for the (normalized) `email`. The salt is derived from the
   * email with a per-installation key, so the same email and password always give the same hash:
   * an account is found by looking the hash up, which costs exactly one argon2 run whether or not
   * the email is known (no timing difference to measure), and salts stay unique per email.
   */
  hash(email: string, password: string): Promise<string>;
}

/** `saltKey` is read on first use (it is created at setup and kept in the database). */
export function createPasswordHasher(saltKey: () => Promise<Buffer>): PasswordHasher {
  return {
    async hash(email, password) {
      const salt = createHmac('sha256', await saltKey()).update(email).digest().subarray(0, 16);
      return hash(password, { ...ARGON2ID, salt });
    },
  };
}

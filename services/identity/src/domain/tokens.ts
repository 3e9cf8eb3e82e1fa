import { createHash, randomBytes } from 'node:crypto';
import type { PrincipalType, StaffRole } from '@emporium/contracts';

/** Random ids with a prefix saying what they are: `cus_…`, `stf_…`, `gst_…`, `rtf_…`. */
export const newId = (prefix: 'cus' | 'stf' | 'gst' | 'rtf' | 'key'): string => `${prefix}_${randomBytes(12).toString('base64url')}`;

/** 256 random bits; only their SHA-256 digest is stored. */
export const newRefreshToken = (): string => `rt_${randomBytes(32).toString('base64url')}`;

export const digestRefreshToken = (token: string): string => createHash('sha256').update(token).digest('base64url');

/** Whom a token pair is issued to. */
export interface Principal {
  type: PrincipalType;
  id: string;
  roles?: StaffRole[];
}

export interface TokenLifetimes {
  accessSeconds: number;
  refreshSeconds: number;
}

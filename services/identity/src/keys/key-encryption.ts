import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM for private signing keys at rest. The key id is bound as associated data, so a
 * ciphertext moved to another row does not decrypt. Format: `v1.<iv>.<tag>.<ciphertext>` (base64url).
 */
export interface KeyEncryption {
  encrypt(plaintext: string, kid: string): string;
  decrypt(sealed: string, kid: string): string;
}

export function createKeyEncryption(key: Buffer): KeyEncryption {
  if (key.length !== 32) throw new Error('the key-encryption key must be 32 bytes');
  const aad = (kid: string) => Buffer.from(`emporium-identity:signing-key:${kid}`);
  return {
    encrypt(plaintext, kid) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(aad(kid));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return ['v1', iv, cipher.getAuthTag(), body].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
    },
    decrypt(sealed, kid) {
      const [version, iv, tag, body] = sealed.split('.');
      if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('unknown sealed key format');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(aad(kid));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}

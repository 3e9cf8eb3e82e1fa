import { Jwks } from '@emporium/contracts';
import type { HttpApp } from '@emporium/platform';
import type { KeyRing } from '../keys/key-ring';

export function jwksRoutes(app: HttpApp, ring: KeyRing): void {
  app.get('/.well-known/jwks.json', {
    schema: { tags: ['keys'], summary: 'Public keys that verify access tokens (JWKS)', response: { 200: Jwks } },
  }, async (_request, reply) => {
    // Short: verifiers also refetch when they meet an unknown kid.
    reply.header('cache-control', 'public, max-age=60');
    return ring.jwks();
  });
}

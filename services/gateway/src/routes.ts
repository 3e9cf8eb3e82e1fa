/** Which service answers which public path prefix (the seed's paths, unchanged). */
export const ROUTES = [
  { prefix: '/products', service: 'catalog' },
  { prefix: '/cart', service: 'cart' },
  { prefix: '/discounts', service: 'cart' },
  { prefix: '/inventory', service: 'inventory' },
  { prefix: '/api/orders', service: 'orders' },
  { prefix: '/api/payments', service: 'payments' },
  { prefix: '/shipments', service: 'shipping' },
  { prefix: '/auth', service: 'identity' },
  { prefix: '/.well-known/jwks.json', service: 'identity' },
] as const;

export const UPSTREAMS = ['catalog', 'cart', 'inventory', 'orders', 'payments', 'shipping', 'identity'] as const;
export type Upstream = (typeof UPSTREAMS)[number];

/**
 * Staff operations of each service (dead letters) under `/ops/{service}/…`; the service serves
 * them at `/ops/…`.
 */
export const OPS_PREFIX = '/ops';
export const opsPathOf = (service: Upstream, url: string): string => `${OPS_PREFIX}${url.slice(`${OPS_PREFIX}/${service}`.length)}`;

/** Which service answers which public path prefix (the seed's paths, unchanged). */
export const ROUTES = [
  { prefix: '/products', service: 'catalog' },
  { prefix: '/cart', service: 'cart' },
  { prefix: '/discounts', service: 'cart' },
  { prefix: '/inventory', service: 'inventory' },
  { prefix: '/api/orders', service: 'orders' },
  { prefix: '/api/payments', service: 'payments' },
  { prefix: '/shipments', service: 'shipping' },
] as const;

export const UPSTREAMS = ['catalog', 'cart', 'inventory', 'orders', 'payments', 'shipping'] as const;
export type Upstream = (typeof UPSTREAMS)[number];

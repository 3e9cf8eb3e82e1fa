/**
 * Who may call which public route (ADR 0009): a table read at a glance, checked before forwarding.
 * Each rule is a gateway route (Fastify's path syntax); a route that is not in the table is not
 * public: the gateway answers 404 without asking a service.
 */
export type StaffRole = 'admin' | 'operations' | 'support';

export type Access =
  /** Anyone, with or without a token. */
  | { kind: 'anyone' }
  /** Guests and customers (their own things; services check ownership); staff with one of `staff` roles too. */
  | { kind: 'shopper'; staff: readonly StaffRole[] }
  /** Guests and customers whose token subject is the `:customerId` path segment; staff with `staff` roles. */
  | { kind: 'owner'; staff: readonly StaffRole[] }
  /** Staff with one of these roles. */
  | { kind: 'staff'; roles: readonly StaffRole[] };

export interface Rule {
  method: string;
  path: string;
  access: Access;
  /** identity reads its own `Authorization` header (`/auth/me`, `/auth/password`, `/auth/staff`). */
  identityChecksToken?: boolean;
  /** The answer is a stream (server-sent events): piped, no body timeout. */
  stream?: boolean;
}

const ALL_STAFF: readonly StaffRole[] = ['admin', 'operations', 'support'];
const OPERATIONS: readonly StaffRole[] = ['admin', 'operations'];
const SUPPORT: readonly StaffRole[] = ['admin', 'support'];

const anyone = (method: string, path: string, extra: Partial<Rule> = {}): Rule => ({ method, path, access: { kind: 'anyone' }, ...extra });
const shopper = (method: string, path: string, staff: readonly StaffRole[] = [], extra: Partial<Rule> = {}): Rule => ({ method, path, access: { kind: 'shopper', staff }, ...extra });
const owner = (method: string, path: string, staff: readonly StaffRole[] = []): Rule => ({ method, path, access: { kind: 'owner', staff } });
const staff = (method: string, path: string, roles: readonly StaffRole[]): Rule => ({ method, path, access: { kind: 'staff', roles } });

/** First match wins, so specific paths come before the patterns that would also match them. */
export const POLICY: readonly Rule[] = [
  // identity: sign-up, sign-in, sessions; identity checks the tokens its own routes need
  anyone('*', '/auth/*', { identityChecksToken: true }),
  anyone('GET', '/.well-known/jwks.json'),

  // catalog
  anyone('GET', '/products'),
  anyone('GET', '/products/categories'),
  anyone('GET', '/products/:id'),
  staff('POST', '/products', OPERATIONS),
  staff('PATCH', '/products/:id', OPERATIONS),

  // inventory: availability is public, stock is staff work
  staff('GET', '/inventory/reconciliation', OPERATIONS),
  staff('GET', '/inventory/:productId/movements', OPERATIONS),
  staff('POST', '/inventory/:productId/update', OPERATIONS),
  anyone('GET', '/inventory/:productId'),

  // cart: only its owner; staff may look (support work)
  owner('GET', '/cart/:customerId', ALL_STAFF),
  owner('DELETE', '/cart/:customerId'),
  owner('POST', '/cart/:customerId/add'),
  owner('DELETE', '/cart/:customerId/remove'),
  owner('PUT', '/cart/:customerId/lines/:productId'),
  owner('POST', '/cart/:customerId/discount'),
  owner('DELETE', '/cart/:customerId/discount'),
  staff('GET', '/discounts', OPERATIONS),
  staff('GET', '/discounts/:code', OPERATIONS),
  staff('POST', '/discounts', OPERATIONS),

  // orders: a shopper's own (orders checks the owner); support may look and cancel
  shopper('POST', '/api/orders'),
  shopper('GET', '/api/orders', ALL_STAFF),
  shopper('GET', '/api/orders/:id', ALL_STAFF),
  shopper('GET', '/api/orders/:id/events', ALL_STAFF, { stream: true }),
  shopper('POST', '/api/orders/:id/payment'),
  shopper('POST', '/api/orders/:id/cancel', SUPPORT),

  // payments: refunds are staff work
  staff('POST', '/api/payments/:paymentId/refund', SUPPORT),
  shopper('GET', '/api/payments', ALL_STAFF),
  shopper('GET', '/api/payments/:paymentId', ALL_STAFF),

  // shipping
  staff('POST', '/shipments/:shipmentId/status', OPERATIONS),
  shopper('GET', '/shipments', ALL_STAFF),
  shopper('GET', '/shipments/:shipmentId', ALL_STAFF),

  // each service's parked events
  staff('GET', '/ops/:service/dead-letters', OPERATIONS),
  staff('POST', '/ops/:service/dead-letters/:id/replay', OPERATIONS),
];

import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors';

/**
 * Who is calling, as the gateway verified it from the access token (ADR 0009). The gateway deletes
 * these headers from every client request and sets them itself; a request without them did not come
 * through the gateway: it is an internal call (another service, seeding, a component test).
 */
export const PRINCIPAL_HEADERS = {
  type: 'x-principal-type',
  id: 'x-principal-id',
  roles: 'x-principal-roles',
} as const;

export type PrincipalKind = 'anonymous' | 'guest' | 'customer' | 'staff';

export interface Principal {
  type: PrincipalKind;
  /** `gst_…`, `cus_…`, `stf_…`; null for anonymous callers. */
  id: string | null;
  roles: readonly string[];
}

const KINDS = new Set<string>(['anonymous', 'guest', 'customer', 'staff']);

/** The caller of a request that came through the gateway; undefined for an internal call. */
export function principalOf(request: Pick<FastifyRequest, 'headers'>): Principal | undefined {
  const type = request.headers[PRINCIPAL_HEADERS.type];
  if (type === undefined) return undefined;
  if (typeof type !== 'string' || !KINDS.has(type)) throw new AppError('AUTH.INVALID_PRINCIPAL', 'The caller could not be identified.', { status: 401 });
  const id = request.headers[PRINCIPAL_HEADERS.id];
  const roles = request.headers[PRINCIPAL_HEADERS.roles];
  return {
    type: type as PrincipalKind,
    id: typeof id === 'string' && id !== '' ? id : null,
    roles: typeof roles === 'string' && roles !== '' ? roles.split(',') : [],
  };
}

/** The headers that carry a principal to a service (what the gateway sets, and what tests send). */
export function principalHeaders(principal: Principal): Record<string, string> {
  return {
    [PRINCIPAL_HEADERS.type]: principal.type,
    ...(principal.id ? { [PRINCIPAL_HEADERS.id]: principal.id } : {}),
    ...(principal.roles.length > 0 ? { [PRINCIPAL_HEADERS.roles]: principal.roles.join(',') } : {}),
  };
}

/**
 * May this caller see or act on what belongs to `customerId`? Internal calls and staff may (staff
 * do support work; the gateway already checked the role a staff route needs); a shopper only on
 * their own.
 */
export function mayAccessCustomer(principal: Principal | undefined, customerId: string): boolean {
  if (!principal || principal.type === 'staff') return true;
  return principal.id !== null && principal.id === customerId;
}

/**
 * Who a shopper's request speaks for: the token's subject. Returns undefined for internal calls
 * and staff (who act on behalf of a customer named in the request).
 */
export function shopperOf(principal: Principal | undefined): string | undefined {
  if (!principal || principal.type === 'staff') return undefined;
  if (principal.id === null) throw new AppError('AUTH.MISSING_TOKEN', 'Sign in, or start a guest session, first.', { status: 401 });
  return principal.id;
}

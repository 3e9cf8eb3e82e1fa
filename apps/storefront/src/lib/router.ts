/**
 * Hash routes (`/#/product/456`), so no client path collides with the API's (`/products`,
 * `/cart`, `/api/…`), and the gateway serves one index.html at `/`.
 */
export type Route =
  | { name: 'home' }
  | { name: 'browse' }
  | { name: 'category'; category: string }
  | { name: 'search'; q: string }
  | { name: 'product'; id: string }
  | { name: 'cart' }
  | { name: 'checkout' }
  | { name: 'order'; id: string; placed: boolean }
  | { name: 'orders' }
  | { name: 'signin'; next: string | undefined }
  | { name: 'signup'; next: string | undefined }
  | { name: 'not-found'; path: string };

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '') || '/';
  const [pathPart, queryPart = ''] = raw.split('?', 2) as [string, string?];
  const query = new URLSearchParams(queryPart);
  const parts = pathPart.split('/').filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  const [first, second] = parts;
  const next = query.get('next') ?? undefined;
  if (parts.length === 0) return { name: 'home' };
  if (first === 'browse' && parts.length === 1) return { name: 'browse' };
  if (first === 'category' && second && parts.length === 2) return { name: 'category', category: second };
  if (first === 'search' && parts.length === 1) return { name: 'search', q: query.get('q') ?? '' };
  if (first === 'product' && second && parts.length === 2) return { name: 'product', id: second };
  if (first === 'cart' && parts.length === 1) return { name: 'cart' };
  if (first === 'checkout' && parts.length === 1) return { name: 'checkout' };
  if (first === 'orders' && parts.length === 1) return { name: 'orders' };
  if (first === 'orders' && second && parts.length === 2) return { name: 'order', id: second, placed: query.get('placed') === '1' };
  if (first === 'signin' && parts.length === 1) return { name: 'signin', next };
  if (first === 'signup' && parts.length === 1) return { name: 'signup', next };
  return { name: 'not-found', path: pathPart };
}

export function hrefOf(route: Route): string {
  const e = encodeURIComponent;
  switch (route.name) {
    case 'home':
      return '#/';
    case 'browse':
      return '#/browse';
    case 'category':
      return `#/category/${e(route.category)}`;
    case 'search':
      return `#/search?q=${e(route.q)}`;
    case 'product':
      return `#/product/${e(route.id)}`;
    case 'cart':
      return '#/cart';
    case 'checkout':
      return '#/checkout';
    case 'order':
      return `#/orders/${e(route.id)}${route.placed ? '?placed=1' : ''}`;
    case 'orders':
      return '#/orders';
    case 'signin':
      return `#/signin${route.next ? `?next=${e(route.next)}` : ''}`;
    case 'signup':
      return `#/signup${route.next ? `?next=${e(route.next)}` : ''}`;
    case 'not-found':
      return `#${route.path}`;
  }
}

export function navigate(route: Route): void {
  window.location.hash = hrefOf(route).slice(1);
}

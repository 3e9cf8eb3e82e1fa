import { describe, expect, it } from 'vitest';
import { hrefOf, parseRoute, type Route } from '../src/lib/router';

describe('hash routes', () => {
  it('when a route is written and read back, then it is the same route', () => {
    const routes: Route[] = [
      { name: 'home' },
      { name: 'browse' },
      { name: 'category', category: 'kitchen' },
      { name: 'search', q: 'oak & brass' },
      { name: 'product', id: '456' },
      { name: 'cart' },
      { name: 'checkout' },
      { name: 'orders' },
      { name: 'order', id: 'ord_1', placed: true },
      { name: 'signin', next: '/checkout' },
      { name: 'signup', next: undefined },
    ];
    for (const route of routes) expect(parseRoute(hrefOf(route))).toEqual(route);
  });

  it('when the hash is empty or unknown, then it is home or not found', () => {
    expect(parseRoute('')).toEqual({ name: 'home' });
    expect(parseRoute('#/nope/x')).toEqual({ name: 'not-found', path: '/nope/x' });
  });
});

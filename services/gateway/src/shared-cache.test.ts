import { describe, expect, it } from 'vitest';
import { createSharedCache, sharedMaxAge } from './shared-cache';

const answer = (cacheControl?: string, extra: Record<string, string> = {}) => ({
  status: 200,
  headers: { 'content-type': 'application/json', ...(cacheControl ? { 'cache-control': cacheControl } : {}), ...extra },
  payload: Buffer.from('{}'),
});

describe('shared cache', () => {
  it('when Cache-Control allows a shared cache, then its lifetime is s-maxage, else max-age; anything private, not to be stored or not public gives 0', () => {
    expect(sharedMaxAge('public, max-age=5')).toBe(5);
    expect(sharedMaxAge('Public, Max-Age=5, s-maxage=2')).toBe(2);
    expect(sharedMaxAge('public, max-age="3"')).toBe(3);
    for (const value of [undefined, '', 'max-age=5', 'public', 'public, max-age=0', 'public, max-age=-1', 'public, max-age=1.5', 'public, max-age=5, private', 'public, no-store, max-age=5', 'public, no-cache, max-age=5']) {
      expect(sharedMaxAge(value), String(value)).toBe(0);
    }
  });

  it('when an answer is stored, then it is found until it expires and only for its service and path', () => {
    const cache = createSharedCache();
    expect(cache.store('catalog', '/products', answer('public, max-age=2'), cache.generation('catalog'), 1_000)).toBe(true);
    expect(cache.lookup('catalog', '/products', 2_999)?.storedAt).toBe(1_000);
    expect(cache.lookup('catalog', '/products?page=2', 1_500)).toBeUndefined();
    expect(cache.lookup('cart', '/products', 1_500)).toBeUndefined();
    expect(cache.lookup('catalog', '/products', 3_000)).toBeUndefined();
  });

  it('when an answer is not a 200, sets a cookie or varies, then it is not kept', () => {
    const cache = createSharedCache();
    expect(cache.store('catalog', '/a', { ...answer('public, max-age=5'), status: 404 }, 0)).toBe(false);
    expect(cache.store('catalog', '/b', answer('public, max-age=5', { 'set-cookie': 'x=1' }), 0)).toBe(false);
    expect(cache.store('catalog', '/c', answer('public, max-age=5', { vary: 'accept-language' }), 0)).toBe(false);
  });

  it('when a write reached the service while a read was on its way, then that read is not kept (it may predate the write)', () => {
    const cache = createSharedCache();
    const before = cache.generation('catalog');
    cache.store('catalog', '/products/p1', answer('public, max-age=5'), before);
    cache.forget('catalog');
    expect(cache.lookup('catalog', '/products/p1')).toBeUndefined();
    expect(cache.store('catalog', '/products/p1', answer('public, max-age=5'), before)).toBe(false);
    expect(cache.store('catalog', '/products/p1', answer('public, max-age=5'), cache.generation('catalog'))).toBe(true);
  });

  it('when a service has more entries than allowed, then the oldest goes first', () => {
    const cache = createSharedCache({ maxEntriesPerService: 2 });
    for (const path of ['/1', '/2', '/3']) cache.store('catalog', path, answer('public, max-age=5'), 0);
    expect(cache.lookup('catalog', '/1')).toBeUndefined();
    expect(cache.lookup('catalog', '/3')).toBeDefined();
  });
});

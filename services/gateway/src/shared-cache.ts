/**
 * A shared HTTP cache for public reads (RFC 9111, the small part we need): an answer is kept only
 * when its service says `Cache-Control: public` with a `max-age` (or `s-maxage`), for that long.
 * The service decides what may be cached and for how long; the gateway answers repeats from
 * memory. A write forwarded to a service (any successful non-GET) drops that service's entries,
 * so whoever changes something through this gateway reads the change at once; another gateway
 * instance serves the old answer for at most max-age.
 */
export interface CachedAnswer {
  status: number;
  headers: Record<string, string | string[]>;
  payload: Buffer;
  storedAt: number;
  expiresAt: number;
}

export interface SharedCache {
  lookup(service: string, path: string, now?: number): CachedAnswer | undefined;
  /** Counts the writes forwarded to a service: read it before asking the service, give it to store(). */
  generation(service: string): number;
  /**
   * Keeps the answer if its headers allow a shared cache to and no write reached the service since
   * `generation` was read (the answer may predate the write); returns whether it did.
   */
  store(service: string, path: string, answer: Omit<CachedAnswer, 'storedAt' | 'expiresAt'>, generation: number, now?: number): boolean;
  /** Forgets every answer of a service (after a write to it). */
  forget(service: string): void;
}

/** Seconds a shared cache may keep an answer with this Cache-Control, or 0. */
export function sharedMaxAge(cacheControl: string | string[] | undefined): number {
  if (typeof cacheControl !== 'string') return 0;
  const directives = new Map<string, string | undefined>();
  for (const part of cacheControl.toLowerCase().split(',')) {
    const [name, value] = part.trim().split('=', 2) as [string, string | undefined];
    if (name) directives.set(name, value?.replace(/^"|"$/g, ''));
  }
  if (!directives.has('public') || ['private', 'no-store', 'no-cache'].some((d) => directives.has(d))) return 0;
  const seconds = Number(directives.get('s-maxage') ?? directives.get('max-age'));
  return Number.isInteger(seconds) && seconds > 0 ? seconds : 0;
}

export function createSharedCache(options: { maxEntriesPerService?: number } = {}): SharedCache {
  const maxEntries = options.maxEntriesPerService ?? 1_000;
  const byService = new Map<string, Map<string, CachedAnswer>>();
  const generations = new Map<string, number>();
  return {
    lookup(service, path, now = Date.now()) {
      const entries = byService.get(service);
      const entry = entries?.get(path);
      if (!entry) return undefined;
      if (entry.expiresAt > now) return entry;
      entries!.delete(path);
      return undefined;
    },
    generation: (service) => generations.get(service) ?? 0,
    store(service, path, answer, generation, now = Date.now()) {
      const maxAge = sharedMaxAge(answer.headers['cache-control']);
      if (generation !== (generations.get(service) ?? 0)) return false;
      if (answer.status !== 200 || maxAge === 0 || answer.headers['set-cookie'] !== undefined || answer.headers.vary !== undefined) return false;
      let entries = byService.get(service);
      if (!entries) byService.set(service, (entries = new Map()));
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
      entries.set(path, { ...answer, storedAt: now, expiresAt: now + maxAge * 1000 });
      return true;
    },
    forget(service) {
      byService.delete(service);
      generations.set(service, (generations.get(service) ?? 0) + 1);
    },
  };
}

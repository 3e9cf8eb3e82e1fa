/**
 * Serialized answers to product reads, kept until the catalog changes. Writes on this instance clear
 * it at once; writes on other instances clear it when their catalog-events arrive; a short TTL bounds
 * staleness should an event be late. Reads are most of a shop's traffic, changes are rare.
 */
export interface ReadCache {
  get(key: string): string | undefined;
  set(key: string, body: string): void;
  clear(): void;
}

export function createReadCache(options: { ttlMs?: number; maxEntries?: number } = {}): ReadCache {
  const ttlMs = options.ttlMs ?? 5_000;
  const maxEntries = options.maxEntries ?? 2_000;
  const entries = new Map<string, { body: string; expires: number }>();
  return {
    get(key) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.expires < Date.now()) {
        entries.delete(key);
        return undefined;
      }
      return entry.body;
    },
    set(key, body) {
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
      entries.set(key, { body, expires: Date.now() + ttlMs });
    },
    clear() {
      entries.clear();
    },
  };
}

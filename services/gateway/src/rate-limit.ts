/** A token bucket: `burst` requests at once, refilled at `perSecond`. */
export interface Bucket {
  burst: number;
  perSecond: number;
}

export interface RateLimiter {
  /** Takes one token for `key`: 0 when allowed, else the seconds until one is available. */
  take(key: string): number;
  /** Buckets currently tracked (metrics, tests). */
  size(): number;
}

/**
 * Token buckets in memory, one per key. Full buckets are forgotten (a sweep every minute), so
 * memory follows the number of recently active clients, not of all clients ever seen.
 */
export function createRateLimiter(bucket: Bucket, now: () => number = () => performance.now()): RateLimiter {
  const state = new Map<string, { tokens: number; at: number }>();
  const refillPerMs = bucket.perSecond / 1000;
  let lastSweep = now();

  const sweep = (t: number) => {
    lastSweep = t;
    for (const [key, s] of state) if (s.tokens + (t - s.at) * refillPerMs >= bucket.burst) state.delete(key);
  };

  return {
    take(key) {
      const t = now();
      if (t - lastSweep > 60_000) sweep(t);
      const s = state.get(key) ?? { tokens: bucket.burst, at: t };
      s.tokens = Math.min(bucket.burst, s.tokens + (t - s.at) * refillPerMs);
      s.at = t;
      state.set(key, s);
      if (s.tokens >= 1) {
        s.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil((1 - s.tokens) / refillPerMs / 1000));
    },
    size: () => state.size,
  };
}

/** `"200/50"` → `{ burst: 200, perSecond: 50 }`; `"off"` → false. */
export function parseBucket(text: string): Bucket | false {
  if (text.trim().toLowerCase() === 'off') return false;
  const match = /^\s*(\d+)\s*\/\s*(\d+(?:\.\d+)?)\s*$/.exec(text);
  if (!match) throw new Error(`"${text}" is not a rate limit: write burst/perSecond (e.g. 200/50) or off`);
  const burst = Number(match[1]);
  const perSecond = Number(match[2]);
  if (burst < 1 || perSecond <= 0) throw new Error(`"${text}": burst must be at least 1 and the rate above 0`);
  return { burst, perSecond };
}

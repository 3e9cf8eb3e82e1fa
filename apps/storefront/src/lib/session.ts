/** Who is shopping, as kept in localStorage between visits. */
export interface CustomerProfile {
  id: string;
  email: string;
  name: string;
}

export interface Session {
  kind: 'guest' | 'customer';
  /** `gst_…` or `cus_…`: also the cart's id. */
  id: string;
  accessToken: string;
  refreshToken: string;
  customer?: CustomerProfile;
}

/** The part of Web Storage the app uses, so tests can pass a Map-backed one. */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const KEY = 'emporium.session';

export interface SessionStore {
  get(): Session | undefined;
  set(session: Session | undefined): void;
  subscribe(listener: (session: Session | undefined) => void): () => void;
}

export function createSessionStore(storage: KeyValueStorage): SessionStore {
  const listeners = new Set<(session: Session | undefined) => void>();
  let current: Session | undefined;
  try {
    const raw = storage.getItem(KEY);
    const parsed = raw ? (JSON.parse(raw) as Session) : undefined;
    if (parsed && typeof parsed.accessToken === 'string' && typeof parsed.refreshToken === 'string' && typeof parsed.id === 'string') current = parsed;
  } catch {
    current = undefined;
  }
  return {
    get: () => current,
    set(session) {
      current = session;
      if (session) storage.setItem(KEY, JSON.stringify(session));
      else storage.removeItem(KEY);
      for (const listener of listeners) listener(session);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export function memoryStorage(): KeyValueStorage {
  const map = new Map<string, string>();
  return {
    getItem: (k) => map.get(k) ?? null,
    setItem: (k, v) => void map.set(k, v),
    removeItem: (k) => void map.delete(k),
  };
}

import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { Cart } from '@emporium/contracts';
import { ApiError, createApiClient, type ApiClient } from './lib/api';
import { createSessionStore, type Session } from './lib/session';
import type { ProcessorConfig } from './lib/processor';

export interface StoreConfig {
  /** null when the store has no card processor configured. */
  paymentProcessor: ProcessorConfig | null;
}

interface Store {
  api: ApiClient;
  session: Session | undefined;
  cart: Cart | undefined;
  cartError: string | undefined;
  /** Re-reads the cart (after a change, or to see availability move). */
  refreshCart(): Promise<Cart | undefined>;
  setCart(cart: Cart): void;
  /** Says something to screen readers (and shows it in the status bar). */
  announce(message: string): void;
  announcement: string;
  /** The card processor to tokenize with; rejects with a readable message when there is none. */
  loadProcessor(): Promise<ProcessorConfig>;
  cartPath(suffix?: string): string;
}

const StoreContext = createContext<Store | undefined>(undefined);

export function useStore(): Store {
  const store = useContext(StoreContext);
  if (!store) throw new Error('useStore outside StoreProvider');
  return store;
}

export function StoreProvider({ children }: { children: ReactNode }) {
  const sessions = useMemo(() => createSessionStore(window.localStorage), []);
  const api = useMemo(() => createApiClient({ store: sessions }), [sessions]);
  const [session, setSession] = useState<Session | undefined>(sessions.get());
  const [cart, setCart] = useState<Cart | undefined>();
  const [cartError, setCartError] = useState<string | undefined>();
  const [announcement, setAnnouncement] = useState('');
  const configRef = useRef<Promise<StoreConfig> | undefined>(undefined);

  useEffect(() => sessions.subscribe(setSession), [sessions]);

  // Another tab signing in or out changes the session here too.
  useEffect(() => {
    const onStorage = (event: StorageEvent) => {
      if (event.key === 'emporium.session') window.location.reload();
    };
    window.addEventListener('storage', onStorage);
    return () => window.removeEventListener('storage', onStorage);
  }, []);

  const refreshCart = useCallback(async () => {
    try {
      const current = await api.ensureSession();
      const fresh = await api.request<Cart>('GET', `/cart/${encodeURIComponent(current.id)}`);
      // The session may have changed (sign-in) while this was in flight.
      if (sessions.get()?.id === current.id) {
        setCart(fresh);
        setCartError(undefined);
      }
      return fresh;
    } catch (error) {
      setCartError(error instanceof ApiError ? error.message : 'The cart could not be loaded.');
      return undefined;
    }
  }, [api, sessions]);

  useEffect(() => {
    setCart(undefined);
    void refreshCart();
  }, [session?.id, refreshCart]);

  const clearTimer = useRef<number | undefined>(undefined);
  const announce = useCallback((message: string) => {
    // Clearing first makes a repeated message be read again; the toast goes after a while.
    setAnnouncement('');
    window.clearTimeout(clearTimer.current);
    window.setTimeout(() => setAnnouncement(message), 50);
    clearTimer.current = window.setTimeout(() => setAnnouncement(''), 7000);
  }, []);

  const loadProcessor = useCallback(async () => {
    configRef.current ??= fetch('/storefront/config.json', { headers: { accept: 'application/json' } }).then(async (res) => {
      if (!res.ok) throw new Error(`config answered ${res.status}`);
      return (await res.json()) as StoreConfig;
    });
    const config = await configRef.current.catch(() => {
      configRef.current = undefined;
      throw new Error('The payment service could not be reached. Your card was not charged; please try again in a moment.');
    });
    if (!config.paymentProcessor) {
      configRef.current = undefined;
      throw new Error('Card payments are not available in this store right now (no payment processor is configured). Nothing was charged.');
    }
    return config.paymentProcessor;
  }, []);

  const cartPath = useCallback((suffix = '') => `/cart/${encodeURIComponent(sessions.get()?.id ?? '')}${suffix}`, [sessions]);

  const value: Store = { api, session, cart, cartError, refreshCart, setCart, announce, announcement, loadProcessor, cartPath };
  return <StoreContext.Provider value={value}>{children}</StoreContext.Provider>;
}

import type { Session, SessionStore } from './session';

/** An RFC 9457 problem document as the services answer it. */
export interface Problem {
  status: number;
  code?: string;
  title?: string;
  detail?: string;
  errors?: Array<{ field: string; message: string }>;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  readonly fieldErrors: Array<{ field: string; message: string }>;

  constructor(problem: Problem) {
    super(problem.detail ?? problem.title ?? `The request failed (${problem.status}).`);
    this.name = 'ApiError';
    this.status = problem.status;
    this.code = problem.code;
    this.fieldErrors = problem.errors ?? [];
  }

  /** The message for one field (`shipping_address.postalCode`, `code`, …), if the server named it. */
  fieldMessage(field: string): string | undefined {
    return this.fieldErrors.find((e) => e.field === field || e.field.endsWith(`.${field}`))?.message;
  }
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Send the access token (default true). */
  auth?: boolean;
  signal?: AbortSignal;
}

interface TokenAnswer {
  accessToken: string;
  refreshToken: string;
  guest?: { id: string };
  customer?: { id: string; email: string; name: string };
}

export interface ApiClient {
  request<T>(method: string, path: string, options?: RequestOptions): Promise<T>;
  /** A raw authenticated fetch (same refresh-and-retry), for streams. */
  fetchRaw(path: string, init?: RequestInit): Promise<Response>;
  /** The current session, starting a guest one on first use. */
  ensureSession(): Promise<Session>;
  startGuest(): Promise<Session>;
  signIn(email: string, password: string): Promise<Session>;
  signUp(name: string, email: string, password: string): Promise<Session>;
  signOut(): Promise<Session>;
}

const NETWORK_PROBLEM: Problem = { status: 0, code: 'NETWORK', detail: 'The store could not be reached. Check your connection and try again.' };

async function problemOf(res: Response): Promise<Problem> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as Partial<Problem>;
    return { ...body, status: res.status };
  } catch {
    return { status: res.status, detail: res.status === 429 ? 'Too many requests; wait a moment and try again.' : `The store answered ${res.status}. Please try again.` };
  }
}

/**
 * Every API call: the access token in `Authorization: Bearer`; an expired token is refreshed once
 * (concurrent callers share one refresh, since identity treats two refreshes of one token as theft)
 * and the call retried. A session that cannot be refreshed becomes a new guest session.
 */
export function createApiClient(options: { store: SessionStore; fetch?: FetchLike; baseUrl?: string }): ApiClient {
  const { store } = options;
  const doFetch: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const base = options.baseUrl ?? '';
  let refreshing: Promise<Session> | undefined;
  let starting: Promise<Session> | undefined;

  const send = async (path: string, init: RequestInit): Promise<Response> => {
    try {
      return await doFetch(`${base}${path}`, init);
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      throw new ApiError(NETWORK_PROBLEM);
    }
  };

  const postJson = async <T>(path: string, body: unknown): Promise<T> => {
    const res = await send(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new ApiError(await problemOf(res));
    return (res.status === 204 ? undefined : await res.json()) as T;
  };

  const sessionOf = (answer: TokenAnswer): Session =>
    answer.customer
      ? { kind: 'customer', id: answer.customer.id, accessToken: answer.accessToken, refreshToken: answer.refreshToken, customer: answer.customer }
      : { kind: 'guest', id: answer.guest!.id, accessToken: answer.accessToken, refreshToken: answer.refreshToken };

  const startGuest = (): Promise<Session> => {
    starting ??= postJson<TokenAnswer>('/auth/guest', {})
      .then((answer) => {
        const session = sessionOf(answer);
        store.set(session);
        return session;
      })
      .finally(() => {
        starting = undefined;
      });
    return starting;
  };

  const ensureSession = async () => store.get() ?? (await startGuest());

  const refresh = (stale: Session): Promise<Session> => {
    refreshing ??= (async () => {
      const current = store.get();
      // Someone else already refreshed (or signed in): use theirs.
      if (current && current.accessToken !== stale.accessToken) return current;
      try {
        const answer = await postJson<TokenAnswer>('/auth/refresh', { refreshToken: stale.refreshToken });
        const next: Session = { ...stale, accessToken: answer.accessToken, refreshToken: answer.refreshToken };
        store.set(next);
        return next;
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          store.set(undefined);
          return await startGuest();
        }
        throw error;
      }
    })().finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  };

  const isStaleToken = async (res: Response): Promise<boolean> => {
    if (res.status !== 401) return false;
    const problem = await problemOf(res.clone());
    return problem.code === 'AUTH.TOKEN_EXPIRED' || problem.code === 'AUTH.INVALID_TOKEN';
  };

  const fetchRaw = async (path: string, init: RequestInit = {}, auth = true): Promise<Response> => {
    const withToken = (session: Session | undefined): RequestInit => {
      const headers = new Headers(init.headers);
      if (session) headers.set('authorization', `Bearer ${session.accessToken}`);
      return { ...init, headers };
    };
    const session = auth ? await ensureSession() : undefined;
    const res = await send(path, withToken(session));
    if (!session || !(await isStaleToken(res))) return res;
    const fresh = await refresh(session);
    // A refresh that fell back to a new guest must not replay a customer's request as the guest.
    if (fresh.id !== session.id) return res;
    return send(path, withToken(fresh));
  };

  /**
   * Sign-in and sign-up carry the guest's access token so identity merges the guest's cart. An
   * expired guest token is refreshed first; one identity still refuses is left out (no merge).
   */
  const authenticate = async (path: string, body: Record<string, string>): Promise<Session> => {
    let guest = store.get();
    const attempt = (token?: string) => postJson<TokenAnswer>(path, { ...body, ...(token ? { guestToken: token } : {}) });
    let answer: TokenAnswer;
    try {
      answer = await attempt(guest?.kind === 'guest' ? guest.accessToken : undefined);
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 'AUTH.INVALID_GUEST_TOKEN' && guest?.kind === 'guest')) throw error;
      guest = await refresh(guest).catch(() => undefined);
      answer = await attempt(guest?.kind === 'guest' ? guest.accessToken : undefined).catch((second: unknown) => {
        if (second instanceof ApiError && second.code === 'AUTH.INVALID_GUEST_TOKEN') return attempt();
        throw second;
      });
    }
    const session = sessionOf(answer);
    store.set(session);
    return session;
  };

  return {
    async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
      const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
      if (opts.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetchRaw(path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), signal: opts.signal }, opts.auth ?? true);
      if (!res.ok) throw new ApiError(await problemOf(res));
      if (res.status === 204) return undefined as T;
      const text = await res.text();
      return (text ? JSON.parse(text) : undefined) as T;
    },
    fetchRaw: (path, init) => fetchRaw(path, init),
    ensureSession,
    startGuest,
    signIn: (email, password) => authenticate('/auth/signin', { email, password }),
    signUp: (name, email, password) => authenticate('/auth/signup', { name, email, password }),
    async signOut() {
      const current = store.get();
      if (current) await postJson('/auth/signout', { refreshToken: current.refreshToken }).catch(() => undefined);
      store.set(undefined);
      return startGuest();
    },
  };
}

/**
 * A field message from a problem document as a sentence for the form: services write them to follow
 * the field's name ("must be …"); the rule code in parentheses is for machines.
 */
export function fieldSentence(label: string, message: string): string {
  const text = message.replace(/\s*\(rule: [\w-]+\)\s*$/, '').trim();
  const sentence = /^[a-z]/.test(text) ? `${label} ${text}` : text;
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}

/** A fresh Idempotency-Key: one per attempt of the shopper, reused on automatic retries. */
export const newIdempotencyKey = (): string => crypto.randomUUID();

import { startEmbedded, type EmbeddedOptions, type EmbeddedPlatform } from '@emporium/launcher/embedded';
import { expect } from 'vitest';
import { TEST_ADMIN } from '../../support/auth';

/**
 * The security suites' platform: the whole store in this process (in-memory, ephemeral port),
 * reached only through the gateway's public HTTP.
 */

export interface RateLimit {
  burst: number;
  perSecond: number;
}

export interface SecurityPlatformOptions {
  seed?: boolean;
  /** identity: e.g. a short access-token lifetime to see tokens expire. */
  identity?: EmbeddedOptions['identity'];
  /** gateway rate limits: off unless a suite sets them (the rate-limit suite does). */
  rateLimits?: { client?: RateLimit | false; account?: RateLimit | false; signIn?: RateLimit | false };
}

export async function startSecurityPlatform(options: SecurityPlatformOptions = {}): Promise<EmbeddedPlatform> {
  return startEmbedded({
    port: 0,
    logLevel: process.env.TEST_LOG_LEVEL ?? 'silent',
    seed: options.seed ?? false,
    admin: TEST_ADMIN,
    identity: options.identity,
    gateway: { rateLimits: { client: false, account: false, signIn: false, ...options.rateLimits } },
  });
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown> | undefined;
}

/** One request through the gateway; JSON bodies are serialized, answers parsed when they are JSON. */
export async function call(url: string, method: string, path: string, options: { headers?: Record<string, string>; body?: unknown } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(`${url}${path}`, { method, headers, body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body) });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export const show = (a: Answer) => `${a.status} ${a.headers.get('content-type') ?? ''} ${a.text.slice(0, 500)}`;

/** An RFC 9457 problem answer with this status (or one of these). */
export function expectProblem(answer: Answer, status: number | number[]): void {
  const allowed = Array.isArray(status) ? status : [status];
  expect(allowed, show(answer)).toContain(answer.status);
  expect(answer.headers.get('content-type') ?? '', show(answer)).toContain('application/problem+json');
  expect(answer.json, show(answer)).toMatchObject({ type: expect.any(String), title: expect.any(String), status: answer.status, detail: expect.any(String) });
}

/** Polls `read` until `done` holds (the saga runs on events). */
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > until) throw new Error(`timed out; last value: ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

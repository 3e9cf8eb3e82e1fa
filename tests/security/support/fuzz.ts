import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { Pool } from 'undici';
import { conforms, invalidOf, validOf, type Hints, type JsonSchema } from './json-schema';

/**
 * Requests for one OpenAPI operation, valid and invalid, each labelled by the schema oracle
 * (`conforms`) rather than by the generator that built it; and the runner that sends them
 * through the gateway and tallies what came back.
 */

export type Caller = 'anonymous' | 'customer' | 'admin';

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  schema: JsonSchema;
}

export interface Operation {
  service: string;
  method: string;
  /** The path as the gateway serves it, with `{name}` placeholders. */
  path: string;
  parameters: Parameter[];
  body?: { schema: JsonSchema; required: boolean };
  idempotencyKey: boolean;
}

interface OpenApiDocument {
  components?: { schemas?: Record<string, JsonSchema> };
  paths: Record<string, Record<string, { parameters?: Array<Parameter & { in: string }>; requestBody?: { required?: boolean; content?: Record<string, { schema?: JsonSchema }> } }>>;
}

/** The schema with every `#/components/schemas/…` reference replaced by what it names (a dangling one fails loudly). */
function resolveRefs(schema: unknown, doc: OpenApiDocument, seen: string[] = []): JsonSchema {
  if (Array.isArray(schema)) return schema.map((s) => resolveRefs(s, doc, seen)) as unknown as JsonSchema;
  if (!schema || typeof schema !== 'object') return schema as JsonSchema;
  const ref = (schema as { $ref?: string }).$ref;
  if (ref) {
    const name = ref.replace('#/components/schemas/', '');
    const target = doc.components?.schemas?.[name];
    if (!target) throw new Error(`the OpenAPI document refers to ${ref}, which it does not define`);
    if (seen.includes(name)) return {};
    return resolveRefs(target, doc, [...seen, name]);
  }
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, resolveRefs(v, doc, seen)])) as JsonSchema;
}

/** Every operation of a service's OpenAPI document, at its public path (`/ops/…` moves under `/ops/{service}/…`). */
export function operationsOf(service: string, doc: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const parameters = (op.parameters ?? [])
        .filter((p): p is Parameter => p.in === 'path' || p.in === 'query' || p.in === 'header')
        .map((p) => ({ ...p, schema: resolveRefs(p.schema, doc) }));
      const raw = op.requestBody?.content?.['application/json']?.schema;
      const schema = raw ? resolveRefs(raw, doc) : undefined;
      operations.push({
        service,
        method: method.toUpperCase(),
        path: path.startsWith('/ops/') ? `/ops/${service}${path.slice('/ops'.length)}` : path,
        parameters: parameters.filter((p) => p.in !== 'header'),
        body: schema ? { schema, required: op.requestBody?.required === true } : undefined,
        idempotencyKey: parameters.some((p) => p.in === 'header' && p.name === 'idempotency-key'),
      });
    }
  }
  return operations;
}

export const operationName = (op: Operation) => `${op.method} ${op.path}`;

export type CaseKind =
  | 'valid'
  | 'invalid body'
  | 'missing body'
  | 'malformed JSON'
  | 'wrong content type'
  | 'huge body'
  | 'invalid parameter'
  | 'malformed path'
  | 'missing parameter'
  | 'invalid idempotency key'
  | 'undeclared query';

export interface FuzzCase {
  kind: CaseKind;
  /** Does the request conform to the operation's schemas (the oracle's verdict)? */
  valid: boolean;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** A parameter's string value conforms if it matches as a string, or (numbers in queries are coerced) as the number it spells. */
export function parameterConforms(schema: JsonSchema, text: string): boolean {
  if (conforms(schema, text)) return true;
  const types = JSON.stringify(schema);
  if (!/"type":"(integer|number)"/.test(types) || text.trim() === '') return false;
  const n = Number(text);
  return Number.isFinite(n) && conforms(schema, n);
}

const asText = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v) ?? '');

/** Parameter values that break the schema as strings: odd path segments, unicode, numbers out of range, over-long. */
const brokenParameter = (schema: JsonSchema) =>
  fc
    .oneof(
      invalidOf(schema).map(asText),
      fc.constantFrom('..', '%2e%2e', '../../etc/passwd', 'a/b', ' ', 'null', 'NaN', '-1', '1.5', '1e999', '🛒', 'ＡＢＣ', '\u202e', '<script>', "' OR 1=1 --"),
      fc.string({ minLength: 1, maxLength: 80, unit: 'grapheme' }),
    )
    // The oracle labels every case; this only keeps most of them invalid (no filter that could spin).
    .map((s) => (s.length > 0 && !parameterConforms(schema, s) ? s : `${s}\u{1F6D2}${'x'.repeat(300)}`));

/** Marks a path value sent as it is, not percent-encoded: malformed escapes, encoded dots and slashes. */
const RAW = '\u0001raw:';
const RAW_SEGMENTS = ['%', '%zz', '%E0%A4%A', '%C0%AF', '%00', '%2e%2e%2f', '..%2f..%2fetc', '%ff%fe', '%F0%9F%9B'];

/** What the service sees of a raw segment: its decoding, or nothing valid when it does not decode. */
const decodedRaw = (v: string): string | undefined => {
  try {
    return decodeURIComponent(v.slice(RAW.length));
  } catch {
    return undefined;
  }
};

export interface CaseOptions {
  /** Relative weight of valid requests against the invalid kinds' 3–40 each (argon2 endpoints keep it low). */
  validWeight: number;
  /** Values by parameter or property name: real ids, the caller's own id, strong passwords. */
  hints: Hints;
  headers: Record<string, string>;
  /** Bytes of the "huge body" case: beyond the gateway's limit. */
  hugeBytes: number;
}

/** The arbitrary of requests for one operation. */
export function casesOf(op: Operation, options: CaseOptions): fc.Arbitrary<FuzzCase> {
  const { hints } = options;
  const params = op.parameters;
  const validParams = fc.record(
    Object.fromEntries(params.map((p) => [p.name, validOf(p.schema, hints, p.name).map(asText)])),
    { requiredKeys: params.filter((p) => p.required).map((p) => p.name) },
  ) as fc.Arbitrary<Record<string, string>>;
  const bodySchema = op.body?.schema;
  const validBody = bodySchema ? validOf(bodySchema, hints) : fc.constant(undefined);
  const emptyAllowed = !bodySchema || conforms(bodySchema, {});

  const build = (kind: CaseKind, values: Record<string, string>, body: { text?: string; contentType?: string } | undefined, extraHeaders: Record<string, string> = {}): FuzzCase => {
    let url = op.path;
    const query = new URLSearchParams();
    for (const p of params) {
      const v = values[p.name];
      if (p.in === 'path') url = url.replace(`{${p.name}}`, v?.startsWith(RAW) ? v.slice(RAW.length) : encodeURIComponent(v ?? ''));
      else if (v !== undefined) query.append(p.name, v);
    }
    const qs = query.toString();
    const headers: Record<string, string> = { ...options.headers };
    if (op.idempotencyKey) headers['idempotency-key'] = randomUUID();
    if (body?.text !== undefined) headers['content-type'] = body.contentType ?? 'application/json';
    Object.assign(headers, extraHeaders);
    return { kind, valid: false, method: op.method, url: qs ? `${url}?${qs}` : url, headers, body: body?.text };
  };

  const label = (c: FuzzCase, values: Record<string, string>, body: unknown, sent: 'json' | 'none' | 'broken'): FuzzCase => {
    const paramsOk = params.every((p) => {
      const v = values[p.name];
      if (v === undefined) return !p.required;
      const text = v.startsWith(RAW) ? decodedRaw(v) : v;
      return text !== undefined && parameterConforms(p.schema, text);
    });
    const bodyOk = sent === 'broken' ? false : sent === 'none' ? !op.body?.required || emptyAllowed : bodySchema ? conforms(bodySchema, body) : true;
    const keyOk = !c.headers['idempotency-key'] || /^[\x20-\x7e]{1,255}$/.test(c.headers['idempotency-key']);
    return { ...c, valid: paramsOk && bodyOk && keyOk };
  };

  const withBody = (kind: CaseKind, body: fc.Arbitrary<unknown>) =>
    fc.tuple(validParams, body).map(([values, b]) => label(build(kind, values, b === undefined ? undefined : { text: JSON.stringify(b) }), values, b, b === undefined ? 'none' : 'json'));

  const arms: Array<{ weight: number; arbitrary: fc.Arbitrary<FuzzCase> }> = [{ weight: options.validWeight, arbitrary: withBody('valid', validBody) }];

  if (bodySchema) {
    arms.push({ weight: 40, arbitrary: withBody('invalid body', invalidOf(bodySchema, hints).map((b) => (b === undefined ? 42 : b))) });
    if (op.body?.required && !emptyAllowed) arms.push({ weight: 10, arbitrary: withBody('missing body', fc.constant(undefined)) });
    arms.push({
      weight: 10,
      arbitrary: fc.tuple(validParams, validBody, fc.constantFrom('text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx')).map(([values, b, type]) =>
        label(build('wrong content type', values, { text: JSON.stringify(b ?? {}), contentType: type }), values, b, 'broken'),
      ),
    });
  }
  if (op.method !== 'GET') {
    const malformed = fc.constantFrom('{', '{"a":', '[1,2', "{'single': 1}", '{"a":1}}', 'undefined', '\u0000', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"admin":true}}}');
    arms.push({
      weight: 10,
      arbitrary: fc.tuple(validParams, malformed).map(([values, text]) => label(build('malformed JSON', values, { text }), values, undefined, 'broken')),
    });
    arms.push({
      weight: 3,
      arbitrary: validParams.map((values) => label(build('huge body', values, { text: JSON.stringify({ filler: 'x'.repeat(options.hugeBytes) }) }), values, undefined, 'broken')),
    });
  }
  if (params.length > 0) {
    arms.push({
      weight: 30,
      arbitrary: fc
        .tuple(validParams, fc.constantFrom(...params.map((p) => ({ name: p.name, bad: brokenParameter(p.schema) }))), validBody)
        .chain(([values, p, b]) => p.bad.map((bad) => [{ ...values, [p.name]: bad }, b] as const))
        .map(([values, b]) => label(build('invalid parameter', values, b === undefined ? undefined : { text: JSON.stringify(b) }), values, b, b === undefined ? 'none' : 'json')),
    });
    const inPath = params.filter((p) => p.in === 'path');
    if (inPath.length > 0) {
      arms.push({
        weight: 10,
        arbitrary: fc.tuple(validParams, fc.constantFrom(...inPath), fc.constantFrom(...RAW_SEGMENTS), validBody).map(([values, p, raw, b]) => {
          const odd = { ...values, [p.name]: `${RAW}${raw}` };
          return label(build('malformed path', odd, b === undefined ? undefined : { text: JSON.stringify(b) }), odd, b, b === undefined ? 'none' : 'json');
        }),
      });
    }
    const required = params.filter((p) => p.required && p.in === 'query');
    if (required.length > 0) {
      arms.push({
        weight: 10,
        arbitrary: fc.tuple(validParams, fc.constantFrom(...required), validBody).map(([values, p, b]) => {
          const rest = { ...values };
          delete rest[p.name];
          return label(build('missing parameter', rest, b === undefined ? undefined : { text: JSON.stringify(b) }), rest, b, b === undefined ? 'none' : 'json');
        }),
      });
    }
  }
  if (params.length === 0 && !bodySchema) {
    // Nothing to break: undeclared query parameters (the schema does not forbid them, so these count as valid).
    arms.push({
      weight: 30,
      arbitrary: fc.dictionary(fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }), fc.string({ maxLength: 40, unit: 'grapheme' }), { minKeys: 1, maxKeys: 3 }).map((extra) => {
        const c = build('undeclared query', {}, undefined);
        return { ...c, valid: true, url: `${c.url}?${new URLSearchParams(extra).toString()}` };
      }),
    });
  }
  if (op.idempotencyKey) {
    arms.push({
      weight: 5,
      arbitrary: fc.tuple(validParams, validBody, fc.integer({ min: 256, max: 400 })).map(([values, b, n]) =>
        label(build('invalid idempotency key', values, b === undefined ? undefined : { text: JSON.stringify(b) }, { 'idempotency-key': 'k'.repeat(n) }), values, b, b === undefined ? 'none' : 'json'),
      ),
    });
  }
  return fc.oneof(...arms);
}

export interface Tally {
  operation: string;
  tried: number;
  valid: number;
  invalid: number;
  rejected: number;
  accepted: number;
  serverErrors: number;
  ms: number;
  byKind: Partial<Record<CaseKind, number>>;
}

export interface Violation {
  operation: string;
  rule: '5xx' | 'invalid input accepted' | '4xx without a problem document';
  request: string;
  response: string;
}

const PROBLEM_MEMBERS = ['type', 'title', 'status', 'detail'] as const;

/** Sends every case through `pool` (keep-alive) with `concurrency` in flight; returns the tally and what broke the rules. */
export async function runCases(pool: Pool, operation: string, cases: FuzzCase[], concurrency: number): Promise<{ tally: Tally; violations: Violation[] }> {
  const tally: Tally = { operation, tried: 0, valid: 0, invalid: 0, rejected: 0, accepted: 0, serverErrors: 0, ms: 0, byKind: {} };
  const started = Date.now();
  const violations: Violation[] = [];
  const describe = (c: FuzzCase) => `${c.method} ${c.url} [${c.kind}] ${JSON.stringify(Object.fromEntries(Object.entries(c.headers).filter(([k]) => k !== 'authorization')))} ${c.body === undefined ? '' : c.body.length > 300 ? `${c.body.slice(0, 300)}… (${c.body.length} bytes)` : c.body}`;

  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++]!;
      const res = await pool.request({ method: c.method as 'GET', path: c.url, headers: c.headers, body: c.body, headersTimeout: 30_000, bodyTimeout: 30_000 });
      // A live stream (server-sent events) never ends: its status and headers are the answer.
      const streaming = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
      if (streaming) {
        res.body.on('error', () => undefined); // destroying it rejects the read with an AbortError
        res.body.destroy();
      }
      const text = streaming ? '' : await res.body.text();
      tally.tried++;
      tally.byKind[c.kind] = (tally.byKind[c.kind] ?? 0) + 1;
      if (c.valid) tally.valid++;
      else tally.invalid++;
      const status = res.statusCode;
      const response = `${status} ${String(res.headers['content-type'] ?? '')} ${text.slice(0, 400)}`;
      if (status >= 500) {
        tally.serverErrors++;
        violations.push({ operation, rule: '5xx', request: describe(c), response });
      } else if (status >= 400) {
        tally.rejected++;
        let problem: Record<string, unknown> | undefined;
        try {
          problem = JSON.parse(text) as Record<string, unknown>;
        } catch {
          problem = undefined;
        }
        const ok = String(res.headers['content-type'] ?? '').startsWith('application/problem+json') && problem && PROBLEM_MEMBERS.every((m) => m in problem!) && problem.status === status;
        if (!ok) violations.push({ operation, rule: '4xx without a problem document', request: describe(c), response });
      } else {
        tally.accepted++;
        if (!c.valid) violations.push({ operation, rule: 'invalid input accepted', request: describe(c), response });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  tally.ms = Date.now() - started;
  return { tally, violations };
}

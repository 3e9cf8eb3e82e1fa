import fc from 'fast-check';

/**
 * JSON Schema (the subset `z.toJSONSchema` emits for our request schemas) → fast-check
 * arbitraries: `validOf` builds values the schema accepts, `invalidOf` values it refuses, and
 * `conforms` is the oracle that decides which is which. Every generated request is labelled by
 * `conforms`, not by the generator that built it, so a generator mistake cannot mislabel a case.
 *
 * Zod transforms do not appear in JSON Schema (`.trim()`, `.toUpperCase()`, `z.coerce`), so the
 * invalid generators avoid values a transform would make valid: over-long strings hold no spaces,
 * pattern violations still violate the pattern after trimming and changing case.
 */
export interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  default?: unknown;
  description?: string;
}

/** Values for properties or parameters by name, tried beside the schema's own generator (real ids, emails, strong passwords). */
export type Hints = Record<string, fc.Arbitrary<unknown>>;

const codePoints = (s: string) => [...s].length;
const typeOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v;

const regexCache = new Map<string, RegExp>();
const regexOf = (pattern: string): RegExp => {
  let re = regexCache.get(pattern);
  if (!re) regexCache.set(pattern, (re = new RegExp(pattern, 'u')));
  return re;
};

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Does `value` satisfy `schema`? The keywords our schemas use; unknown keywords are ignored. */
export function conforms(schema: JsonSchema, value: unknown): boolean {
  if (schema.anyOf) return schema.anyOf.some((s) => conforms({ ...schema, anyOf: undefined, ...s }, value));
  if (schema.oneOf) return schema.oneOf.filter((s) => conforms({ ...schema, oneOf: undefined, ...s }, value)).length === 1;
  if (schema.enum && !schema.enum.some((e) => e === value)) return false;
  if ('const' in schema && schema.const !== value) return false;
  if (schema.type) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const actual = typeOf(value);
    if (!types.some((t) => t === actual || (t === 'number' && actual === 'integer'))) return false;
  }
  if (typeof value === 'string') {
    const n = codePoints(value);
    if (schema.minLength !== undefined && n < schema.minLength) return false;
    if (schema.maxLength !== undefined && n > schema.maxLength) return false;
    if (schema.pattern !== undefined && !regexOf(schema.pattern).test(value)) return false;
    if (schema.format === 'date-time' && (!DATE_TIME.test(value) || Number.isNaN(Date.parse(value)))) return false;
    if (schema.format === 'uri' && !URL.canParse(value)) return false;
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) return false;
    if (schema.maximum !== undefined && value > schema.maximum) return false;
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) return false;
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) return false;
    if ((schema.type === 'integer' || schema.type?.includes('integer')) && !Number.isSafeInteger(value) && !schema.type?.includes('number')) return false;
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) return false;
    if (schema.maxItems !== undefined && value.length > schema.maxItems) return false;
    if (schema.items && !value.every((v) => conforms(schema.items!, v))) return false;
  }
  if (typeOf(value) === 'object') {
    const record = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in record)) return false;
    for (const [key, v] of Object.entries(record)) {
      const sub = schema.properties?.[key];
      if (sub) {
        if (!conforms(sub, v)) return false;
      } else if (schema.additionalProperties === false) return false;
      else if (typeof schema.additionalProperties === 'object' && !conforms(schema.additionalProperties, v)) return false;
    }
  }
  return true;
}

const typesOf = (schema: JsonSchema): string[] =>
  schema.type ? (Array.isArray(schema.type) ? schema.type : [schema.type]) : schema.enum ? [...new Set(schema.enum.map(typeOf))] : [];

/** Strings of printable characters, unicode included (combining marks, emoji, right-to-left). */
const anyText = (min: number, max: number) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.string({ minLength: min, maxLength: max, unit: 'grapheme-ascii' }) },
    { weight: 1, arbitrary: fc.string({ minLength: min, maxLength: max, unit: 'grapheme' }) },
  );

function validString(schema: JsonSchema): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = Math.min(schema.maxLength ?? 40, Math.max(min, 60));
  if (schema.format === 'date-time') {
    return fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => d.toISOString());
  }
  if (schema.format === 'uri') return fc.webUrl({ size: 'small' }).filter((u) => u.length <= (schema.maxLength ?? 2000));
  if (schema.pattern) {
    const arb = fc.stringMatching(regexOf(schema.pattern), { maxLength: schema.maxLength ?? 64 });
    return arb.filter((s) => codePoints(s) >= min && codePoints(s) <= (schema.maxLength ?? Infinity));
  }
  return anyText(min, max);
}

function validNumber(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : -1e9);
  const max = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - 1 : 1e9);
  if (!integer) return fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
  const lo = Math.max(Math.ceil(min), Number.MIN_SAFE_INTEGER);
  const hi = Math.min(Math.floor(max), Number.MAX_SAFE_INTEGER);
  // Small values most of the time (they hit real rows), the bounds and the whole range now and then.
  const small = fc.integer({ min: Math.max(lo, -1000), max: Math.min(hi, Math.max(lo, -1000) + 2000) });
  return fc.oneof(
    { weight: 4, arbitrary: small },
    { weight: 1, arbitrary: fc.constantFrom(lo, hi) },
    { weight: 1, arbitrary: fc.bigInt(BigInt(lo), BigInt(hi)).map(Number) },
  );
}

/** An arbitrary of values `schema` accepts (`hints` by property name join the schema's own generator). */
export function validOf(schema: JsonSchema, hints: Hints = {}, name?: string): fc.Arbitrary<unknown> {
  const own = validOwn(schema, hints);
  const hint = name !== undefined ? hints[name] : undefined;
  return hint ? fc.oneof({ weight: 3, arbitrary: hint }, { weight: 1, arbitrary: own }) : own;
}

function validOwn(schema: JsonSchema, hints: Hints): fc.Arbitrary<unknown> {
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches) return fc.oneof(...branches.map((b) => validOf({ ...schema, anyOf: undefined, oneOf: undefined, ...b }, hints)));
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if ('const' in schema) return fc.constant(schema.const);
  const types = typesOf(schema);
  if (types.length === 0) return fc.jsonValue({ maxDepth: 2 });
  return fc.oneof(
    ...types.map((type): fc.Arbitrary<unknown> => {
      switch (type) {
        case 'string':
          return validString(schema);
        case 'integer':
          return validNumber(schema, true);
        case 'number':
          return validNumber(schema, false);
        case 'boolean':
          return fc.boolean();
        case 'null':
          return fc.constant(null);
        case 'array':
          return fc.array(schema.items ? validOf(schema.items, hints) : fc.jsonValue({ maxDepth: 1 }), {
            minLength: schema.minItems ?? 0,
            maxLength: Math.min(schema.maxItems ?? 5, Math.max(schema.minItems ?? 0, 5)),
          });
        case 'object': {
          const properties = schema.properties ?? {};
          const model = Object.fromEntries(Object.entries(properties).map(([key, sub]) => [key, validOf(sub, hints, key)]));
          return fc.record(model, { requiredKeys: (schema.required ?? []).filter((k) => k in properties) });
        }
        default:
          return fc.jsonValue({ maxDepth: 1 });
      }
    }),
  );
}

/** Characters no pattern of ours allows, whatever the case or trimming. */
const FORBIDDEN = ['!', '~', '/', '<', '"', '\u00e9', '\u{1F600}', '%', '\u0000', '\\', '\u202e'];
const WRONG_VALUES: unknown[] = [null, true, false, 0, -1, 1.5, '', 'x', '12', [], [1], {}, { a: 1 }, 1e308, -1e308];

/** Values of a type the schema does not allow at all (none for a schema that allows anything). */
const wrongType = (schema: JsonSchema): fc.Arbitrary<unknown> | undefined => {
  const wrong = WRONG_VALUES.filter((v) => !conforms(schema, v));
  return wrong.length > 0 ? fc.constantFrom(...wrong) : undefined;
};

const present = <T>(arbitraries: Array<fc.Arbitrary<T> | undefined>): Array<fc.Arbitrary<T>> => arbitraries.filter((a): a is fc.Arbitrary<T> => a !== undefined);

/** A value that breaks one constraint of a schema (range, length, pattern, enum, format, type); none if it allows anything. */
function brokenValue(schema: JsonSchema): fc.Arbitrary<unknown> | undefined {
  const breakers = present([wrongType(schema)]);
  const types = typesOf(schema);
  const numeric = types.includes('integer') || types.includes('number');
  if (numeric && !schema.anyOf) {
    if (schema.minimum !== undefined) breakers.push(fc.integer({ min: 1, max: 1_000_000 }).map((d) => schema.minimum! - d));
    if (schema.maximum !== undefined) breakers.push(fc.integer({ min: 1, max: 1_000_000 }).map((d) => schema.maximum! + d));
    if (types.includes('integer') && !types.includes('number')) breakers.push(fc.constantFrom(0.5, 1.25, 2.000001, 1e21));
  }
  if (types.includes('string') && !schema.anyOf) {
    const pad = (n: number) => fc.constantFrom('x', 'Z', '9', '\u00e9', '\u{1F600}').map((c) => c.repeat(n));
    if (schema.maxLength !== undefined) breakers.push(fc.integer({ min: schema.maxLength + 1, max: schema.maxLength + 200 }).chain(pad));
    if ((schema.minLength ?? 0) > 0) breakers.push(fc.constant(''));
    if (schema.pattern) {
      const re = regexOf(schema.pattern);
      // What no transform (trim, case) could turn valid; else an over-long string, which breaks every pattern of ours.
      const breaks = (s: string) => ![s, s.trim(), s.trim().toUpperCase(), s.trim().toLowerCase()].some((t) => re.test(t));
      const orLong = (s: string) => (breaks(s) ? s : `${s}!${'x'.repeat(300)}`);
      breakers.push(
        fc.tuple(validString(schema), fc.constantFrom(...FORBIDDEN), fc.nat()).map(([s, c, at]) => {
          const i = s.length === 0 ? 0 : at % (s.length + 1);
          return orLong(s.slice(0, i) + c + s.slice(i));
        }),
        fc.stringMatching(/^[a-z]{1,8}[!/ ][a-z]{1,8}$/).map(orLong),
      );
    }
    if (schema.format === 'date-time') breakers.push(fc.constantFrom('2026-13-01T00:00:00Z', '2026-02-30T10:00:00Z', 'yesterday', '2026-01-01', '2026-01-01T25:00:00Z'));
    if (schema.format === 'uri') breakers.push(fc.constantFrom('not a url', '://nope', 'http//missing-colon', ''));
  }
  if (schema.enum) breakers.push(fc.constantFrom(...['unknown', 'ADMIN', 'Admin ', 'root', ''].filter((v) => !schema.enum!.includes(v))));
  if (types.includes('array') && schema.items) {
    if (schema.maxItems !== undefined) breakers.push(fc.array(validOf(schema.items), { minLength: schema.maxItems + 1, maxLength: schema.maxItems + 3 }));
    if ((schema.minItems ?? 0) > 0) breakers.push(fc.constant([]));
    const bad = brokenValue(schema.items);
    if (bad) breakers.push(fc.tuple(fc.array(validOf(schema.items), { maxLength: 2 }), bad).map(([ok, b]) => [...ok, b]));
  }
  if (types.includes('object')) breakers.push(brokenObject(schema));
  return breakers.length > 0 ? fc.oneof(...breakers) : undefined;
}

/** An object that breaks the schema in one place: a required field missing, an unknown field, a field broken. */
function brokenObject(schema: JsonSchema, hints: Hints = {}): fc.Arbitrary<unknown> {
  const valid = validOf({ ...schema, anyOf: undefined }, hints) as fc.Arbitrary<Record<string, unknown>>;
  const properties = Object.entries(schema.properties ?? {});
  const breakers = present([wrongType(schema)]);
  const required = (schema.required ?? []).filter((k) => schema.properties?.[k]);
  if (required.length > 0) {
    breakers.push(
      fc.tuple(valid, fc.constantFrom(...required)).map(([v, key]) => {
        const copy = { ...v };
        delete copy[key];
        return copy;
      }),
    );
  }
  if (schema.additionalProperties === false) {
    const unknownKey = fc.oneof(
      fc.constantFrom('price', 'total', 'status', 'customerId', 'customer_id', 'roles', 'amount', 'discount', 'isAdmin', '__proto__', 'constructor', 'id', 'createdAt'),
      fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' }),
    ).filter((k) => !(k in (schema.properties ?? {})));
    breakers.push(
      fc.tuple(valid, unknownKey, fc.jsonValue({ maxDepth: 1 })).map(([v, key, extra]) => {
        const copy = { ...v };
        Object.defineProperty(copy, key, { value: extra, enumerable: true, writable: true, configurable: true });
        return copy;
      }),
    );
  }
  const breakable = properties.flatMap(([key, sub]) => {
    const bad = brokenValue(sub);
    return bad ? [{ key, bad }] : [];
  });
  if (breakable.length > 0) {
    breakers.push(fc.constantFrom(...breakable).chain(({ key, bad }) => fc.tuple(valid, bad).map(([v, b]) => ({ ...v, [key]: b }))));
  }
  return fc.oneof(...breakers);
}

/** An arbitrary of values `schema` refuses (check each with `conforms`: a few generators can miss). */
export function invalidOf(schema: JsonSchema, hints: Hints = {}): fc.Arbitrary<unknown> {
  if (schema.anyOf) {
    // Break every branch at once: a type none of them allows, or the object branch broken (the oracle has the last word).
    const objectBranch = schema.anyOf.find((b) => typesOf(b).includes('object'));
    const arms = present([wrongType(schema), objectBranch ? brokenObject(objectBranch, hints) : undefined]);
    return arms.length > 0 ? fc.oneof(...arms) : fc.constant(undefined);
  }
  if (typesOf(schema).includes('object')) return brokenObject(schema, hints);
  return brokenValue(schema) ?? fc.constant(undefined);
}

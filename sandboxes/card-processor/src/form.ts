/**
 * Stripe's request bodies: `application/x-www-form-urlencoded` with nested keys
 * (`card[number]=…`, `payment_method_data[card][token]=…`, `expand[0]=…`), as the SDK encodes them.
 */
export type FormValue = string | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

export class FormError extends Error {
  constructor(readonly param: string) {
    super(`Invalid parameter: ${param}`);
  }
}

const segmentsOf = (key: string): string[] => {
  const open = key.indexOf('[');
  if (open === -1) return [key];
  const segments = [key.slice(0, open)];
  const rest = key.slice(open);
  const pattern = /\[([^[\]]*)\]/gy;
  let match: RegExpExecArray | null;
  let consumed = 0;
  while ((match = pattern.exec(rest))) {
    segments.push(match[1]!);
    consumed = pattern.lastIndex;
  }
  if (consumed !== rest.length || segments[0] === '') throw new FormError(key);
  return segments;
};

export function parseForm(body: string): FormObject {
  const root: FormObject = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const segments = segmentsOf(key);
    let node = root;
    segments.forEach((raw, i) => {
      const segment = raw === '' ? String(Object.keys(node).length) : raw;
      if (i === segments.length - 1) {
        if (typeof node[segment] === 'object') throw new FormError(key);
        node[segment] = value;
        return;
      }
      const next = node[segment] ?? {};
      if (typeof next === 'string') throw new FormError(key);
      node[segment] = next;
      node = next;
    });
  }
  return root;
}

/** Every leaf as Stripe names it in errors: `card[number]`, `metadata[order_id]`. */
export function paramNames(form: FormObject, prefix = ''): string[] {
  return Object.entries(form).flatMap(([key, value]) => {
    const name = prefix ? `${prefix}[${key}]` : key;
    return typeof value === 'string' ? [name] : paramNames(value, name);
  });
}

/**
 * One error type for the whole platform. Every error that reaches a client becomes an
 * RFC 9457 problem document; `code` is namespaced (`ORDERS.UNKNOWN_PRODUCT`).
 */
export interface FieldError {
  /** JSON-pointer-like path of the field at fault, e.g. `items/0/quantity` or `body`. */
  field: string;
  message: string;
}

export interface AppErrorOptions {
  status?: number;
  cause?: unknown;
  errors?: FieldError[];
  /** Extra members copied into the problem document (RFC 9457 extension members). */
  extensions?: Record<string, unknown>;
}

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly errors: FieldError[] | undefined;
  readonly extensions: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: AppErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = options.status ?? 500;
    this.errors = options.errors;
    this.extensions = options.extensions;
  }
}

export const notFound = (code: string, message: string): AppError => new AppError(code, message, { status: 404 });

export const invalid = (code: string, message: string, errors: FieldError[]): AppError =>
  new AppError(code, message, { status: 422, errors });

export const conflict = (code: string, message: string, extensions?: Record<string, unknown>): AppError =>
  new AppError(code, message, { status: 409, extensions });

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  code: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export function problemDocument(
  status: number,
  code: string,
  detail: string,
  extras: { instance?: string; errors?: FieldError[]; extensions?: Record<string, unknown> } = {},
): ProblemDocument {
  return {
    ...extras.extensions,
    type: `https://emporium.dev/problems/${code.toLowerCase().replace(/[._]/g, '-')}`,
    title: TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error'),
    status,
    detail,
    code,
    ...(extras.instance ? { instance: extras.instance } : {}),
    ...(extras.errors && extras.errors.length > 0 ? { errors: extras.errors } : {}),
  };
}

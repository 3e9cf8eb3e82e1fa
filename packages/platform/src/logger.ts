import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** JSON logs, one line per event; `service` on every line. */
export function createLogger(service: string, level: LoggerOptions['level'] = 'info', destination?: pino.DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: ['req.headers.authorization', 'card', '*.card', 'password', '*.password'], remove: true },
  };
  return destination ? pino(options, destination) : pino(options);
}

const LEVEL_METHODS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
const noop = (): void => undefined;

/**
 * A child logger that is made only when something is logged through it (or it is asked for
 * anything else a logger has). Making a pino child serializes and redacts its bindings at once,
 * which cost about 6% of the gateway's CPU when made for every request, almost all of which log
 * nothing at the levels we run. `bindings` is called once, when the child is made.
 */
export function lazyChild(parent: Logger, bindings: () => pino.Bindings, options?: pino.ChildLoggerOptions): Logger {
  // A child with a level of its own decides by that level: make it now.
  if (options?.level !== undefined) return parent.child(bindings(), options);
  let child: Logger | undefined;
  const made = (): Logger => (child ??= parent.child(bindings(), options));
  return new Proxy(parent, {
    get(target, property) {
      if (!child) {
        if (property === 'isLevelEnabled' || property === 'level' || property === 'levelVal') {
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        }
        // Looking a log method up (Fastify checks each request's logger has them all) makes
        // nothing; calling one at an enabled level makes the child and logs through it.
        if (typeof property === 'string' && (LEVEL_METHODS.has(property) || property === 'child')) {
          if (property !== 'child' && !target.isLevelEnabled(property)) return noop;
          return (...args: unknown[]): unknown => (made() as unknown as Record<string, (...a: unknown[]) => unknown>)[property]!(...args);
        }
      }
      const real = made();
      const value: unknown = Reflect.get(real, property, real);
      return typeof value === 'function' ? value.bind(real) : value;
    },
  });
}

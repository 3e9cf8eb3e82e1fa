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

import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../logger';
import { createMetrics } from '../metrics';
import { createHttpApp, type HttpApp } from './server';

/** An app whose logger writes JSON lines into `lines` and counts the child loggers made from it once it is ready. */
async function appLogging(level: string): Promise<{ app: HttpApp; lines: Array<Record<string, unknown>>; children: () => number }> {
  const lines: Array<Record<string, unknown>> = [];
  const logger: Logger = createLogger('request-logger-test', level, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  let made = 0;
  const child = logger.child.bind(logger);
  logger.child = ((...args: Parameters<Logger['child']>) => {
    made++;
    return child(...args);
  }) as Logger['child'];
  const app = await createHttpApp({ service: 'request-logger-test', logger, metrics: createMetrics('request_logger_test', { defaultMetrics: false }) });
  app.get('/quiet', async () => ({ ok: true }));
  app.get('/noisy', async (request) => {
    request.log.warn({ detail: 'x' }, 'something to look at');
    return { ok: true };
  });
  await app.ready();
  const atStart = made; // the app's own (plugins') children
  return { app, lines, children: () => made - atStart };
}

let open: HttpApp | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

describe('per-request loggers', () => {
  it('when a request logs nothing at the level the service runs at, then no child logger is made for it', async () => {
    const { app, lines, children } = await appLogging('warn');
    open = app;
    const res = await app.inject({ url: '/quiet', headers: { 'x-correlation-id': 'corr-1' } });
    expect(res.statusCode).toBe(200);
    expect(children()).toBe(0);
    expect(lines).toEqual([]);
  });

  it('when a request logs, then its line carries the request id and the correlation id it came with', async () => {
    const { app, lines, children } = await appLogging('warn');
    open = app;
    const res = await app.inject({ url: '/noisy', headers: { 'x-request-id': 'req-1', 'x-correlation-id': 'corr-1' } });
    expect(res.statusCode).toBe(200);
    expect(children()).toBe(1);
    expect(lines).toEqual([expect.objectContaining({ level: 'warn', msg: 'something to look at', detail: 'x', requestId: 'req-1', correlationId: 'corr-1', service: 'request-logger-test' })]);
  });

  it('when the service logs every request (info), then the completion line carries both ids too', async () => {
    const { app, lines } = await appLogging('info');
    open = app;
    await app.inject({ url: '/quiet', headers: { 'x-request-id': 'req-2' } });
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'request completed', status: 200, requestId: 'req-2', correlationId: 'req-2' }));
  });
});

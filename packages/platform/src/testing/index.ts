import { createInProcessBus, type InProcessBus } from '../bus/in-process';
import { openPglite, type SharedPglite } from '../db/pglite';
import { createLogger } from '../logger';
import { createMetrics } from '../metrics';
import type { ServiceDeps } from '../service';

/**
 * One in-memory embedded database and bus per test file, shared by the services under test,
 * exactly as `npm start` wires them (schemas per service, durable in-process log).
 */
export interface TestPlatform {
  pglite: SharedPglite;
  /** The in-process bus, with replay() and pending() for delivery tests. */
  bus: InProcessBus;
  deps(service: string): ServiceDeps;
  close(): Promise<void>;
}

export async function createTestPlatform(options: { logLevel?: string } = {}): Promise<TestPlatform> {
  const pglite = await openPglite();
  const logger = createLogger('test', (options.logLevel ?? process.env.TEST_LOG_LEVEL ?? 'silent') as 'silent');
  const bus = createInProcessBus({ db: pglite.forSchema('bus'), logger, idlePollMs: 1000 });
  await bus.migrate();
  return {
    pglite,
    bus,
    deps: (service) => ({
      db: pglite.forSchema(service),
      bus,
      logger: logger.child({ service }),
      metrics: createMetrics(service, { defaultMetrics: false }),
    }),
    async close() {
      await bus.close();
      await pglite.close();
    },
  };
}

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes (then throws). */
export async function eventually<T>(probe: () => Promise<T>, timeoutMs = 10_000, what = 'condition'): Promise<Exclude<T, undefined | null | false | 0 | ''>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as Exclude<T, undefined | null | false | 0 | ''>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

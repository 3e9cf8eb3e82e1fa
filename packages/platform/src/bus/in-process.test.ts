import { afterAll, beforeAll } from 'vitest';
import { openPglite, type SharedPglite } from '../db/pglite';
import { createLogger } from '../logger';
import { createInProcessBus } from './in-process';
import { describeEventBusContract } from './contract-suite';

let pglite: SharedPglite;
beforeAll(async () => {
  pglite = await openPglite();
});
afterAll(() => pglite.close());

describeEventBusContract('in-process (durable log on the embedded database)', async () => {
  const bus = createInProcessBus({ db: pglite.forSchema('bus'), logger: createLogger('test', 'silent'), idlePollMs: 500 });
  await bus.migrate();
  return bus;
});

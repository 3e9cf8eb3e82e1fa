import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite, type SharedPglite } from '../db/pglite';
import { createLogger } from '../logger';
import { createInProcessBus } from './in-process';
import { describeEventBusContract, pollUntil } from './contract-suite';

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

describe('in-process bus routing (ADR 0013)', () => {
  const until = (what: string, done: () => boolean | Promise<boolean>) => pollUntil(done, 10_000, () => what);

  it('when messages name the groups that handle them, then each routed group receives only its own (and those naming no one), in order per key, a reader of the whole topic every one, and a replay counts only what each group will receive again', async () => {
    const bus = createInProcessBus({ db: pglite.forSchema('bus_routing'), logger: createLogger('test', 'silent'), idlePollMs: 60_000, fetchSize: 5 });
    await bus.migrate();
    const received: Record<string, string[]> = { payments: [], shipping: [], audit: [] };
    const record = (group: string) => async (m: { key: string; value: string; headers: Record<string, string> }) => {
      expect(m.headers.seq).toBe(m.value.slice(1));
      received[group]!.push(m.value);
    };
    try {
      await bus.subscribe({ group: 'payments', topics: ['routing-a'], routed: true, handler: record('payments'), batchHandler: async (ms) => void ms.forEach((m) => received.payments!.push(m.value)) });
      await bus.subscribe({ group: 'shipping', topics: ['routing-a'], routed: true, handler: record('shipping') });
      await bus.subscribe({ group: 'audit', topics: ['routing-a'], handler: record('audit') });
      // undefined: published without naming its groups (as before routing): for every group.
      const routes: Array<string[] | undefined> = [['payments'], ['shipping'], ['payments', 'shipping'], [], undefined];
      const message = (i: number) => ({ topic: 'routing-a', key: `k${i % 3}`, value: `m${i}`, headers: { seq: String(i) }, deliverTo: routes[i % 5] });
      await bus.publish(Array.from({ length: 40 }, (_, i) => message(i)));
      const expected = (group: string) =>
        Array.from({ length: 40 }, (_, i) => i)
          .filter((i) => routes[i % 5] === undefined || routes[i % 5]!.includes(group))
          .map((i) => `m${i}`);
      // Woken only by their own messages: nothing but the publish signals and no idle poll (60 s) wakes them here.
      await until('every delivery', () => received.audit!.length >= 40 && received.payments!.length >= 24 && received.shipping!.length >= 24);
      await until('every offset stored', async () => (await bus.pending()) === 0);
      for (const group of ['payments', 'shipping']) {
        const byNumber = (value: string) => Number(value.slice(1));
        expect([...received[group]!].sort((a, b) => byNumber(a) - byNumber(b))).toEqual(expected(group));
        for (const key of [0, 1, 2]) {
          const ofKey = received[group]!.map(byNumber).filter((n) => n % 3 === key);
          expect(ofKey, `${group} k${key}`).toEqual([...ofKey].sort((a, b) => a - b));
        }
      }
      expect([...received.audit!].sort()).toEqual(Array.from({ length: 40 }, (_, i) => `m${i}`).sort());

      // A message for shipping alone, published after the others: payments steps over it unwoken.
      await bus.publish([{ ...message(41), deliverTo: ['shipping'] }]);
      await until('the late message', () => received.shipping!.includes('m41'));
      expect(received.payments).not.toContain('m41');

      expect(await bus.replay({ groups: ['payments'] })).toBe(expected('payments').length);
      await until('the replay', () => received.payments!.length >= 2 * expected('payments').length);
      await until('the replay stored', async () => (await bus.pending()) === 0);
      expect(received.payments).toHaveLength(2 * expected('payments').length);
    } finally {
      await bus.close();
    }
  });
});

describe('in-process bus when nothing is published', () => {
  it('an idle subscription waits for the next publish instead of reading the log every few seconds', async () => {
    let reads = 0;
    const db = pglite.forSchema('bus_idle');
    const counting = new Proxy(db, {
      get: (target, property) => (property === 'query' ? (...args: Parameters<typeof db.query>) => (reads++, target.query(...args)) : Reflect.get(target, property)),
    });
    const bus = createInProcessBus({ db: counting, logger: createLogger('test', 'silent') });
    await bus.migrate();
    const received: string[] = [];
    try {
      await bus.subscribe({ group: 'idle', topics: ['idle-a'], handler: async (m) => void received.push(m.value) });
      await new Promise((r) => setTimeout(r, 500));
      const before = reads;
      // The old safety-net poll (every 5 s) read each of the 4 partitions again in this window.
      await new Promise((r) => setTimeout(r, 6_000));
      expect(reads - before).toBe(0);
      await bus.publish([{ topic: 'idle-a', key: 'k', value: 'woken' }]);
      await pollUntil(() => received.includes('woken'), 5_000, () => 'the published message');
    } finally {
      await bus.close();
    }
  }, 15_000);

  it('a subscription stopped while its partitions are still reading the log stops at once, not after the next poll', async () => {
    const bus = createInProcessBus({ db: pglite.forSchema('bus_stop'), logger: createLogger('test', 'silent') });
    await bus.migrate();
    try {
      const subscription = await bus.subscribe({ group: 'stopper', topics: ['stop-a'], handler: async () => undefined });
      // Its four partition loops are in their first read of the log now: the stop signal finds none of them waiting.
      const started = Date.now();
      await subscription.stop();
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await bus.close();
    }
  }, 15_000);
});


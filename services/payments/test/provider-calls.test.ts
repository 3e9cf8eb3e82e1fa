import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { createLogger, migrate } from '@emporium/platform';
import { createTestPlatform } from '@emporium/platform/testing';
import { createProviderCalls } from '../src/providers/provider-calls';
import type { PaymentProvider } from '../src/providers/provider';
import { createPaymentsStore, type DueCall, type PaymentsStore } from '../src/store/payments.store';

describe('the due processor calls', () => {
  it("when this process's clock is behind the database's, then a call queued a moment ago is due at once: due times are read on the database's clock, which set them", async () => {
    const platform = await createTestPlatform();
    try {
      const db = platform.deps('payments').db;
      await migrate(db, fileURLToPath(new URL('../migrations', import.meta.url)));
      const store = createPaymentsStore(db, 'payments');
      await db.query(
        "INSERT INTO payments (id, order_id, customer_id, amount, currency, method, provider, status) VALUES ('pay_clock', 'ord_clock', 'cus_1', 100, 'EUR', 'credit_card', 'stripe', 'authorizing')",
      );
      await db.transaction((tx) => store.queueCall(tx, { paymentId: 'pay_clock', kind: 'authorize', request: { token: 'tok' }, correlationId: null }));
      // A whole minute behind; a `new Date()` read within the millisecond the call was queued in is behind by a fraction of one.
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 60_000 });
      try {
        expect((await store.dueCalls()).map((call) => call.paymentId)).toEqual(['pay_clock']);
      } finally {
        vi.useRealTimers();
      }
      // Postponed on the same clock: not due until its delay has passed there.
      const [call] = await store.dueCalls();
      await store.postponeCall(call!.id, 60_000, 1, 'processor away');
      expect(await store.dueCalls()).toEqual([]);
      await db.query("UPDATE provider_calls SET due_at = due_at - interval '61 seconds'");
      expect((await store.dueCalls()).map((c) => c.attempts)).toEqual([1]);
    } finally {
      await platform.close();
    }
  });
});

describe('the worker that makes processor calls', () => {
  it('when a call is queued just as a look that found nothing ends, then another look finds it at once, not at the next poll', async () => {
    const waiting: DueCall[] = [];
    let looks = 0;
    let wakeUpAfterFirstLook: (() => void) | undefined;
    const store = {
      dueCalls: () => {
        looks++;
        const found = Promise.resolve(waiting.splice(0));
        // Runs after the look has read its answer and left its loop, before the look has ended:
        // the moment a transaction that queued a call commits while a look is finishing.
        const wakeUp = wakeUpAfterFirstLook;
        wakeUpAfterFirstLook = undefined;
        if (wakeUp) void found.then(() => queueMicrotask(wakeUp));
        return found;
      },
      completeCall: async () => undefined,
      postponeCall: async () => undefined,
      vacuumCalls: async () => undefined,
    } as unknown as PaymentsStore;
    const calls = createProviderCalls({ store, provider: {} as PaymentProvider, logger: createLogger('test', 'silent'), pollIntervalMs: 60_000 });
    const stop = calls.task()();
    try {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const before = looks;
      wakeUpAfterFirstLook = () => {
        waiting.push({ id: 1, paymentId: 'pay_1', kind: 'authorize', request: {}, correlationId: null, attempts: 0, payment: undefined } as unknown as DueCall);
        calls.queued();
      };
      calls.queued();
      await new Promise((resolve) => setTimeout(resolve, 50));
      // The first look found nothing; the wake-up during its last moments brought a second, which took the call.
      expect(looks - before).toBe(2);
      expect(waiting).toEqual([]);
    } finally {
      await stop();
    }
  });
});

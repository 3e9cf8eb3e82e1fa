import type { Db, Logger } from '@emporium/platform';
import { ordersChangedChannel } from '../store/orders.store';

export interface OrderChanges {
  /** Calls `onChange` whenever the order changes (in any instance); returns the unsubscribe. */
  subscribe(orderId: string, onChange: () => void): Promise<() => void>;
  close(): Promise<void>;
}

/**
 * Fans the store's NOTIFYs out to the live order pages of this instance: one LISTEN per
 * instance, opened with the first subscriber.
 */
export function createOrderChanges(db: Db, logger: Logger): OrderChanges {
  const subscribers = new Map<string, Set<() => void>>();
  let listening: Promise<() => Promise<void>> | undefined;

  const listen = () =>
    (listening ??= db
      .listen(ordersChangedChannel(db.schema), (orderId) => {
        for (const onChange of subscribers.get(orderId) ?? []) onChange();
      })
      .catch((error: unknown) => {
        listening = undefined;
        throw error;
      }));

  return {
    async subscribe(orderId, onChange) {
      const set = subscribers.get(orderId) ?? new Set();
      set.add(onChange);
      subscribers.set(orderId, set);
      // Without LISTEN the page still updates through the stream's own periodic check.
      await listen().catch((error: unknown) => logger.warn({ err: error }, 'order changes: LISTEN unavailable; live pages poll'));
      return () => {
        set.delete(onChange);
        if (set.size === 0) subscribers.delete(orderId);
      };
    },
    async close() {
      const unlisten = await listening?.catch(() => undefined);
      listening = undefined;
      await unlisten?.();
    },
  };
}

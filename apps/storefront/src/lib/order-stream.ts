import type { OrderView } from '@emporium/contracts';
import type { ApiClient } from './api';
import { readSseStream } from './sse';

export interface WatchOptions {
  /** How often to poll when the stream is unavailable. */
  pollMs?: number;
  /** Delay before reconnecting a dropped stream (grows to 10 s). */
  reconnectMs?: number;
  /** Told which transport is in use, for the page's status line. */
  onMode?: (mode: 'stream' | 'polling') => void;
  onError?: (error: unknown) => void;
}

/** Orders just placed, so their page shows them at once (then follows them live). */
export const recentOrders = new Map<string, OrderView>();

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });

/**
 * Follows an order as the saga moves it: `GET /api/orders/{id}/events` (server-sent events, read
 * with fetch so the token can be sent), reconnecting when it drops; when the stream is not served,
 * polls `GET /api/orders/{id}` instead. Stops once the order reaches a final status, or on abort.
 */
export async function watchOrder(api: ApiClient, orderId: string, onOrder: (order: OrderView) => void, signal: AbortSignal, options: WatchOptions = {}): Promise<void> {
  const pollMs = options.pollMs ?? 2000;
  let reconnectMs = options.reconnectMs ?? 1000;
  let terminal = false;
  const deliver = (order: OrderView) => {
    terminal = order.terminal;
    onOrder(order);
  };
  const path = `/api/orders/${encodeURIComponent(orderId)}`;

  let streamFailures = 0;
  while (!signal.aborted && !terminal) {
    if (streamFailures < 3) {
      // Its own abort, so the stream is closed as soon as the order ends (the server would keep it open).
      const connection = new AbortController();
      const stop = () => connection.abort();
      signal.addEventListener('abort', stop, { once: true });
      let res: Response | undefined;
      try {
        res = await api.fetchRaw(`${path}/events`, { headers: { accept: 'text/event-stream' }, signal: connection.signal });
      } catch (error) {
        if (signal.aborted) return;
        options.onError?.(error);
      }
      const isStream = res?.ok && (res.headers.get('content-type') ?? '').startsWith('text/event-stream') && res.body;
      if (res && isStream) {
        options.onMode?.('stream');
        streamFailures = 0;
        try {
          await readSseStream(res.body!, (event) => {
            if (event.event !== 'order') return;
            try {
              deliver(JSON.parse(event.data) as OrderView);
              if (terminal) stop();
            } catch (error) {
              options.onError?.(error);
            }
          }, connection.signal);
        } catch (error) {
          if (!connection.signal.aborted) options.onError?.(error);
        } finally {
          signal.removeEventListener('abort', stop);
        }
        if (terminal || signal.aborted) return;
        await sleep(reconnectMs, signal);
        reconnectMs = Math.min(reconnectMs * 2, 10_000);
        continue;
      }
      signal.removeEventListener('abort', stop);
      await res?.body?.cancel().catch(() => undefined);
      // Not served here (404, an older gateway) or refused: fall back to polling.
      streamFailures = res && (res.status === 404 || res.status === 405 || res.ok) ? 3 : streamFailures + 1;
    }
    options.onMode?.('polling');
    try {
      deliver(await api.request<OrderView>('GET', path, { signal }));
    } catch (error) {
      if (signal.aborted) return;
      options.onError?.(error);
    }
    if (terminal) return;
    await sleep(pollMs, signal);
  }
}

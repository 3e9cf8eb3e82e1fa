import { describe, expect, it } from 'vitest';
import type { OrderView } from '@emporium/contracts';
import type { ApiClient } from '../src/lib/api';
import { watchOrder } from '../src/lib/order-stream';

const order = (status: string, terminal = false) => ({ id: 'ord_1', status, terminal }) as unknown as OrderView;

function fakeApi(options: { stream?: () => Response; poll?: () => OrderView }): ApiClient & { streamCalls: number; pollCalls: number } {
  const api = {
    streamCalls: 0,
    pollCalls: 0,
    async fetchRaw() {
      api.streamCalls++;
      return options.stream ? options.stream() : new Response('{"status":404}', { status: 404, headers: { 'content-type': 'application/problem+json' } });
    },
    async request() {
      api.pollCalls++;
      return options.poll!();
    },
  };
  return api as unknown as ApiClient & { streamCalls: number; pollCalls: number };
}

const sse = (...orders: OrderView[]) =>
  new Response(orders.map((o) => `: ping\n\nevent: order\ndata: ${JSON.stringify(o)}\n\n`).join(''), { status: 200, headers: { 'content-type': 'text/event-stream' } });

describe('following an order live', () => {
  it('when the event stream is served, then each order update is delivered until the order ends', async () => {
    const seen: string[] = [];
    const api = fakeApi({ stream: () => sse(order('placed'), order('payment_pending'), order('completed', true)) });
    await watchOrder(api, 'ord_1', (o) => seen.push(o.status), new AbortController().signal, { reconnectMs: 1 });
    expect(seen).toEqual(['placed', 'payment_pending', 'completed']);
    expect(api.pollCalls).toBe(0);
  });

  it('when the order ends but the server keeps the stream open, then watching still ends', async () => {
    const seen: string[] = [];
    const encoder = new TextEncoder();
    const api = fakeApi({
      stream: () =>
        new Response(
          new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(encoder.encode(`event: order\ndata: ${JSON.stringify(order('completed', true))}\n\n: ping\n\n`));
              // …and never closes, as a live endpoint would not.
            },
          }),
          { status: 200, headers: { 'content-type': 'text/event-stream' } },
        ),
    });
    await watchOrder(api, 'ord_1', (o) => seen.push(o.status), new AbortController().signal);
    expect(seen).toEqual(['completed']);
  });

  it('when the stream drops before the end, then it reconnects and carries on', async () => {
    const seen: string[] = [];
    let connection = 0;
    const api = fakeApi({ stream: () => (++connection === 1 ? sse(order('placed')) : sse(order('confirmed'), order('completed', true))) });
    await watchOrder(api, 'ord_1', (o) => seen.push(o.status), new AbortController().signal, { reconnectMs: 1 });
    expect(seen).toEqual(['placed', 'confirmed', 'completed']);
    expect(api.streamCalls).toBe(2);
  });

  it('when the stream is not served (404), then the order is polled until it ends', async () => {
    const statuses = [order('placed'), order('payment_pending'), order('payment_failed', true)];
    const seen: string[] = [];
    const modes: string[] = [];
    const api = fakeApi({ poll: () => statuses.shift()! });
    await watchOrder(api, 'ord_1', (o) => seen.push(o.status), new AbortController().signal, { pollMs: 1, onMode: (m) => modes.push(m) });
    expect(seen).toEqual(['placed', 'payment_pending', 'payment_failed']);
    expect(api.streamCalls).toBe(1);
    expect(modes).toContain('polling');
  });

  it('when the page is left (abort), then watching stops', async () => {
    const controller = new AbortController();
    const api = fakeApi({ poll: () => order('placed') });
    const done = watchOrder(api, 'ord_1', () => controller.abort(), controller.signal, { pollMs: 10_000 });
    await expect(done).resolves.toBeUndefined();
    expect(api.pollCalls).toBe(1);
  });
});

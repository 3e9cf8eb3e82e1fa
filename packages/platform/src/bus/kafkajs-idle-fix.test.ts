import { afterEach, describe, expect, it } from 'vitest';
import { PatchedRequestQueue } from './kafkajs-idle-fix';

type Queue = { pending: unknown[]; throttledUntil: number; throttleCheckTimeoutId: NodeJS.Timeout | null; scheduleCheckPendingRequests(): void; destroy(): void };
const queues: Queue[] = [];
const newQueue = (): Queue => {
  const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  const Ctor = PatchedRequestQueue as unknown as new (options: object) => Queue;
  const queue = new Ctor({ maxInFlightRequests: 1, requestTimeout: 1000, enforceRequestTimeout: true, clientId: 'test', broker: 'b:1', logger });
  queues.push(queue);
  return queue;
};

afterEach(() => {
  for (const queue of queues.splice(0)) {
    if (queue.throttleCheckTimeoutId) clearTimeout(queue.throttleCheckTimeoutId);
  }
});

describe('kafkajs request queue (idle fix)', () => {
  it('schedules no check when nothing is pending and nothing is throttled, so an idle connection does not spin a 1 ms timer', () => {
    const queue = newQueue();
    queue.scheduleCheckPendingRequests();
    expect(queue.throttleCheckTimeoutId).toBeNull();
  });

  it('still schedules a check when a request is waiting', () => {
    const queue = newQueue();
    queue.pending.push({});
    queue.scheduleCheckPendingRequests();
    expect(queue.throttleCheckTimeoutId).not.toBeNull();
  });

  it('still schedules a check for the end of a broker throttle', () => {
    const queue = newQueue();
    queue.throttledUntil = Date.now() + 5_000;
    queue.scheduleCheckPendingRequests();
    expect(queue.throttleCheckTimeoutId).not.toBeNull();
  });
});

import { afterEach, describe, expect, it, vi } from 'vitest';
import { PatchedRequestQueue, REQUEST_TIMEOUT_CHECK_MS } from './kafkajs-idle-fix';

type Queue = {
  pending: unknown[];
  inflight: Map<number, { sentAt: number; requestTimeout: number; timeoutRequest(): void }>;
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  scheduleCheckPendingRequests(): void;
  scheduleRequestTimeoutCheck(): void;
  destroy(): void;
};
const queues: Queue[] = [];
const newQueue = (requestTimeout = 1000, isConnected = () => true): Queue => {
  const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  const Ctor = PatchedRequestQueue as unknown as new (options: object) => Queue;
  const queue = new Ctor({ maxInFlightRequests: 1, requestTimeout, enforceRequestTimeout: true, clientId: 'test', broker: 'b:1', logger, isConnected });
  queues.push(queue);
  return queue;
};

afterEach(() => {
  for (const queue of queues.splice(0)) queue.destroy();
  vi.useRealTimers();
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

  it('times out a request that got no answer within a second of its timeout', () => {
    vi.useFakeTimers();
    const queue = newQueue(30_000);
    const timeoutRequest = vi.fn();
    queue.inflight.set(1, { sentAt: Date.now(), requestTimeout: 30_000, timeoutRequest });
    queue.scheduleRequestTimeoutCheck();
    vi.advanceTimersByTime(30_000);
    expect(timeoutRequest).not.toHaveBeenCalled();
    vi.advanceTimersByTime(REQUEST_TIMEOUT_CHECK_MS);
    expect(timeoutRequest).toHaveBeenCalledOnce();
  });

  it('checks a connection once a second, not every 100 ms as kafkajs did, so an idle one does not wake its process', () => {
    vi.useFakeTimers();
    const isConnected = vi.fn(() => true);
    const queue = newQueue(30_000, isConnected);
    queue.scheduleRequestTimeoutCheck();
    vi.advanceTimersByTime(10_000);
    expect(isConnected).toHaveBeenCalledTimes(10);
  });
});

/**
 * Two patches of kafkajs 2.2.4's RequestQueue (one per broker connection) for idle connections.
 *
 * 1. kafkajs keeps every broker connection in a 1 ms timer loop while nothing is pending
 * (RequestQueue.scheduleCheckPendingRequests computes `throttledUntil - now`, which is negative
 * when not throttled, and schedules itself again with it: kafkajs #1556, #1604, #1704, unreleased
 * fix in PR #1667). With a producer, an admin and consumers per service that is thousands of
 * wake-ups a second per process, about 4–5% of a core each while idle.
 *
 * The queue needs checking only when a request waits (pending) or a throttle ends; both still
 * schedule a check exactly as before. A new request is checked on push() and a waiting one
 * whenever an answer arrives, so skipping the empty, unthrottled case loses nothing.
 *
 * 2. Each connection also checks its in-flight requests for a timeout every 100 ms
 *    (`Math.min(requestTimeout, 100)`), connected or idle: with a producer, an admin and two
 *    consumers per service that was 30–70 wake-ups a second of an idle service process. Our
 *    request timeout is 30 s; checking once a second finds a timed-out request at most a second
 *    later, and a connection that is gone (the check's other task) as well.
 */
import { createRequire } from 'node:module';

interface InflightRequest {
  sentAt: number;
  requestTimeout: number;
  timeoutRequest(): void;
}

interface RequestQueueLike {
  pending: unknown[];
  inflight: Map<number, InflightRequest>;
  throttledUntil: number;
  throttleCheckTimeoutId: unknown;
  enforceRequestTimeout: boolean;
  requestTimeout: number;
  requestTimeoutIntervalId: NodeJS.Timeout | undefined;
  scheduleCheckPendingRequests(): void;
  scheduleRequestTimeoutCheck(): void;
  isConnected(): boolean;
  destroy(): void;
}

/** How often a connection looks for requests that have timed out (kafkajs: every 100 ms). */
export const REQUEST_TIMEOUT_CHECK_MS = 1_000;

const require = createRequire(import.meta.url);
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueueLike };

const original = RequestQueue.prototype.scheduleCheckPendingRequests;
const originalTimeoutCheck = RequestQueue.prototype.scheduleRequestTimeoutCheck;
if (typeof original !== 'function' || typeof originalTimeoutCheck !== 'function') {
  throw new Error('kafkajs RequestQueue.scheduleCheckPendingRequests or scheduleRequestTimeoutCheck not found: review bus/kafkajs-idle-fix.ts for this kafkajs version');
}
const patched = Symbol.for('emporium.kafkajs-idle-fix');
if (!(patched in originalTimeoutCheck)) {
  // kafkajs' own body, with the interval as the only change.
  const scheduleRequestTimeoutCheck = function (this: RequestQueueLike): void {
    if (!this.enforceRequestTimeout) return;
    this.destroy();
    this.requestTimeoutIntervalId = setInterval(() => {
      this.inflight.forEach((request) => {
        if (Date.now() - request.sentAt > request.requestTimeout) request.timeoutRequest();
      });
      if (!this.isConnected()) this.destroy();
    }, Math.min(this.requestTimeout, REQUEST_TIMEOUT_CHECK_MS));
  };
  Object.defineProperty(scheduleRequestTimeoutCheck, patched, { value: true });
  RequestQueue.prototype.scheduleRequestTimeoutCheck = scheduleRequestTimeoutCheck;
}
if (!(patched in original)) {
  const scheduleCheckPendingRequests = function (this: RequestQueueLike): void {
    if (this.pending.length === 0 && this.throttledUntil <= Date.now()) return;
    original.call(this);
  };
  Object.defineProperty(scheduleCheckPendingRequests, patched, { value: true });
  RequestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
}

export { RequestQueue as PatchedRequestQueue };

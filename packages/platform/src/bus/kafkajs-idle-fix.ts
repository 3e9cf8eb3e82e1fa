/**
 * kafkajs 2.2.4 keeps every broker connection in a 1 ms timer loop while nothing is pending
 * (RequestQueue.scheduleCheckPendingRequests computes `throttledUntil - now`, which is negative
 * when not throttled, and schedules itself again with it: kafkajs #1556, #1604, #1704, unreleased
 * fix in PR #1667). With a producer, an admin and consumers per service that is thousands of
 * wake-ups a second per process, about 4–5% of a core each while idle.
 *
 * The queue needs checking only when a request waits (pending) or a throttle ends; both still
 * schedule a check exactly as before. A new request is checked on push() and a waiting one
 * whenever an answer arrives, so skipping the empty, unthrottled case loses nothing.
 */
import { createRequire } from 'node:module';

interface RequestQueueLike {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: unknown;
  scheduleCheckPendingRequests(): void;
}

const require = createRequire(import.meta.url);
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueueLike };

const original = RequestQueue.prototype.scheduleCheckPendingRequests;
if (typeof original !== 'function') {
  throw new Error('kafkajs RequestQueue.scheduleCheckPendingRequests not found: review bus/kafkajs-idle-fix.ts for this kafkajs version');
}
const patched = Symbol.for('emporium.kafkajs-idle-fix');
if (!(patched in original)) {
  const scheduleCheckPendingRequests = function (this: RequestQueueLike): void {
    if (this.pending.length === 0 && this.throttledUntil <= Date.now()) return;
    original.call(this);
  };
  Object.defineProperty(scheduleCheckPendingRequests, patched, { value: true });
  RequestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
}

export { RequestQueue as PatchedRequestQueue };

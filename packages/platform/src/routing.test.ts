import { EVENT_CONSUMERS, EVENTS } from '@emporium/contracts';
import { describe, expect, it } from 'vitest';
import { checkRoutes, type EventHandlers } from './consumer';

const noop = async () => undefined;
const kafka = { kind: 'kafka' } as const;
const inProcess = { kind: 'in-process' } as const;
const handlersOf = (types: string[]): EventHandlers => Object.fromEntries(types.map((type) => [type, noop]));

describe('event routing (EVENT_CONSUMERS) against the handlers of a service', () => {
  it('accepts a service whose handlers are exactly the types routed to it', () => {
    expect(() => checkRoutes('payments', handlersOf(['order_payment_requested', 'order_capture_requested', 'order_payment_release_requested', 'order_cancelled']), kafka)).not.toThrow();
  });

  it('refuses a handler whose type is not routed to the service, naming the type (on Kafka it would never arrive)', () => {
    const handlers = handlersOf(['order_payment_requested', 'order_capture_requested', 'order_payment_release_requested', 'order_cancelled', 'order_completed']);
    expect(() => checkRoutes('payments', handlers, inProcess)).toThrow(/handled but not routed here: order_completed/);
  });

  it('refuses a route without a handler, naming the type (every delivery of it would be wasted)', () => {
    expect(() => checkRoutes('shipping', handlersOf(['order_confirmed', 'order_cancelled']), kafka)).toThrow(/routed here but not handled: order_shipment_cancel_requested/);
  });

  it("lets a test's own consumer on the in-process bus handle any type, but not on Kafka, where nothing is routed to it", () => {
    expect(() => checkRoutes('retention_consumer', handlersOf(['order_completed']), inProcess)).not.toThrow();
    expect(() => checkRoutes('retention_consumer', handlersOf(['order_completed']), kafka)).toThrow(/order_completed/);
  });

  it('names only event types that exist, and each consuming service at most once per type', () => {
    for (const [type, consumers] of Object.entries(EVENT_CONSUMERS)) {
      expect(Object.hasOwn(EVENTS, type), type).toBe(true);
      expect(new Set(consumers).size, type).toBe(consumers.length);
    }
  });
});

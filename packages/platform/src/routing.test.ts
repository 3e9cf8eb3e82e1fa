import { DELIVERY_FILTERS, EVENT_CONSUMERS, EVENTS, deliveriesOf } from '@emporium/contracts';
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

describe('delivery filters (DELIVERY_FILTERS): who gets an event, by its data', () => {
  const level = (delta?: { onHand: number; reserved: number }) => ({ productId: 'p', onHand: 5, reserved: 1, available: 4, reason: 'r', ...(delta ? { delta } : {}) });

  it("sends the cart a level change that moves what is available, a product's first level, and one written before the delta existed", () => {
    expect(deliveriesOf('stock_level_changed', level({ onHand: 0, reserved: 1 }))).toEqual(['cart']);
    expect(deliveriesOf('stock_level_changed', level({ onHand: 3, reserved: 0 }))).toEqual(['cart']);
    expect(deliveriesOf('stock_level_changed', level())).toEqual(['cart']);
  });

  it('keeps from the cart a sale, which takes units off the shelf and out of their reservation alike', () => {
    expect(deliveriesOf('stock_level_changed', level({ onHand: -2, reserved: -2 }))).toEqual([]);
  });

  it("keeps from the cart a direct order's confirmation and a sign-in without a guest cart, and nothing from the other consumers", () => {
    const confirmed = { orderId: 'o', customerId: 'c', items: [], total: 1, currency: 'EUR' };
    expect(deliveriesOf('order_confirmed', { ...confirmed, source: 'direct' })).toEqual(['inventory', 'shipping']);
    expect(deliveriesOf('order_confirmed', { ...confirmed, source: 'cart' })).toEqual(['inventory', 'cart', 'shipping']);
    expect(deliveriesOf('customer_signed_in', { customerId: 'c', guestId: null, via: 'sign_in' })).toEqual([]);
    expect(deliveriesOf('customer_signed_in', { customerId: 'c', guestId: 'g', via: 'sign_in' })).toEqual(['cart']);
    expect(deliveriesOf('order_placed', {} as never)).toEqual(['inventory']);
  });

  it('sends an event whose data a filter cannot read to every consumer of its type', () => {
    expect(deliveriesOf('stock_level_changed', undefined as never)).toEqual(['cart']);
    expect(deliveriesOf('order_confirmed', null as never)).toEqual(['inventory', 'cart', 'shipping']);
  });

  it('filters only services that consume the type', () => {
    for (const [type, filters] of Object.entries(DELIVERY_FILTERS)) {
      for (const service of Object.keys(filters)) expect(EVENT_CONSUMERS[type as keyof typeof EVENT_CONSUMERS] as readonly string[], `${type} → ${service}`).toContain(service);
    }
  });
});

import type { EventData, EventType } from './index';

/** The services that consume events (each is one consumer group, named as the service). */
export const CONSUMER_NAMES = ['catalog', 'inventory', 'cart', 'orders', 'payments', 'shipping'] as const;
export type ConsumerName = (typeof CONSUMER_NAMES)[number];
export const isConsumerName = (name: string): name is ConsumerName => (CONSUMER_NAMES as readonly string[]).includes(name);

/**
 * Which services handle each event type: the routing of every event, one source of truth.
 * On Kafka each event is also delivered on a topic per consuming service (see
 * docs/adr/0013-deliver-events-only-to-their-handlers.md), so a service receives only the types it
 * handles. A service's handler map must list exactly its types here: `defineService` refuses to
 * start otherwise, so a handler added without its route (or the reverse) fails every test.
 */
export const EVENT_CONSUMERS = {
  product_created: ['catalog', 'inventory', 'cart', 'orders'],
  product_updated: ['catalog', 'cart', 'orders'],
  price_changed: ['cart', 'orders'],

  order_placed: ['inventory'],
  order_payment_requested: ['payments'],
  order_confirmed: ['inventory', 'cart', 'shipping'],
  order_capture_requested: ['payments'],
  order_completed: ['inventory'],
  order_cancelled: ['inventory', 'payments', 'shipping'],
  order_shipment_cancel_requested: ['shipping'],
  order_payment_release_requested: ['payments'],

  stock_reserved: ['orders'],
  stock_insufficient: ['orders'],
  stock_released: ['orders'],
  stock_committed: [],
  stock_level_changed: ['cart'],

  payment_authorized: ['orders'],
  payment_failed: ['orders'],
  payment_captured: ['orders'],
  payment_capture_failed: ['orders'],
  payment_voided: ['orders'],
  payment_refunded: ['orders'],
  payment_authorization_expired: ['orders'],

  shipment_created: ['orders'],
  shipment_cancelled: ['orders'],

  customer_signed_in: ['cart'],
} as const satisfies Record<EventType, readonly ConsumerName[]>;

/** The services that handle `type`; none for a type no one consumes (it stays on its topic, the record). */
export const consumersOf = (type: EventType): readonly ConsumerName[] => EVENT_CONSUMERS[type];

type DeliveryFilters = { [T in EventType]?: { [G in (typeof EVENT_CONSUMERS)[T][number]]?: (data: EventData<T>) => boolean } };

/**
 * Services that handle a type but need an event of it only when its data says so: the rest are not
 * delivered to them (the event still goes to its topic, the record, and to the type's other services).
 * A delivery costs its receiver a fetch, a transaction and the broker's share — about 2.4 ms of CPU on
 * the bench machine (bench/RESULTS.md, session 20). A filter may skip only events the service's handler
 * would ignore or would change nothing by; the handlers keep their own checks, since a service reading
 * the whole topics (while an upgrade catches up) still gets every event.
 */
export const DELIVERY_FILTERS: DeliveryFilters = {
  // The cart shows how many units are available: a sale takes them off the shelf and out of the
  // reservation alike, which leaves that number as it was.
  stock_level_changed: { cart: (data) => data.delta === undefined || data.delta.onHand !== data.delta.reserved },
  // The cart empties only for orders that checked it out.
  order_confirmed: { cart: (data) => data.source === 'cart' },
  // Only a guest who signs in has a cart to bring along.
  customer_signed_in: { cart: (data) => data.guestId !== null },
};

/**
 * The services an event of `type` with `data` is delivered to: its consumers, less those whose filter
 * turns it down. Data a filter cannot read (not of this version's shape) goes to the service anyway.
 */
export function deliveriesOf<T extends EventType>(type: T, data: EventData<T>): readonly ConsumerName[] {
  const filters = DELIVERY_FILTERS[type] as Partial<Record<ConsumerName, (data: EventData<T>) => boolean>> | undefined;
  const consumers = consumersOf(type);
  if (!filters) return consumers;
  return consumers.filter((service) => {
    try {
      return filters[service]?.(data) !== false;
    } catch {
      return true;
    }
  });
}

/** The event types `service` must handle, by the routing above. */
export const eventsConsumedBy = (service: string): EventType[] =>
  (Object.keys(EVENT_CONSUMERS) as EventType[]).filter((type) => (EVENT_CONSUMERS[type] as readonly string[]).includes(service));

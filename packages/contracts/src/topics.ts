/** Kafka topics, named as in the seed; each keyed by its aggregate id. */
export const TOPICS = {
  orders: 'order-events',
  inventory: 'inventory-events',
  payments: 'payment-events',
  shipments: 'shipment-events',
  carts: 'cart-events',
  catalog: 'catalog-events',
  suppliers: 'supplier-events',
  identity: 'identity-events',
} as const;
export type Topic = (typeof TOPICS)[keyof typeof TOPICS];
export const ALL_TOPICS: readonly Topic[] = Object.values(TOPICS);

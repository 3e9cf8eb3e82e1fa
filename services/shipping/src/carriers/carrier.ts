import type { ShipmentItem } from '@emporium/contracts';

/** Where the parcel goes; orders carry no address yet, so carriers must cope without one. */
export interface ShippingAddress {
  name: string;
  street: string;
  postalCode: string;
  city: string;
  country: string;
}

export interface CreateShipmentRequest {
  /** Our shipment id: stable across retries, so a carrier can recognise a repeated booking. */
  shipmentId: string;
  orderId: string;
  items: ShipmentItem[];
  address?: ShippingAddress;
}

export interface BookedShipment {
  /** Carrier code, e.g. `sandbox-post`. */
  carrier: string;
  trackingNumber: string;
  labelUrl?: string;
}

/**
 * A courier behind one interface, whatever it speaks (REST, SOAP, in-process sandbox).
 * Both calls must be safe to repeat: an event handler that fails after the call is retried.
 * Throw only for failures worth retrying (network, 5xx); they end on the dead-letter topic.
 */
export interface Carrier {
  readonly code: string;
  readonly name: string;
  createShipment(request: CreateShipmentRequest): Promise<BookedShipment>;
  cancelShipment(request: { trackingNumber: string }): Promise<void>;
}

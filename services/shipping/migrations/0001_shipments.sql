-- One shipment per order; the carrier's tracking number is unique within that carrier.
CREATE TABLE shipments (
  id              text PRIMARY KEY,
  order_id        text NOT NULL UNIQUE,
  customer_id     text NOT NULL,
  carrier         text NOT NULL,
  tracking_number text NOT NULL,
  label_url       text,
  status          text NOT NULL CHECK (status IN ('created', 'cancelled', 'in_transit', 'delivered')),
  items           jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (carrier, tracking_number)
);

-- Every status a shipment went through, oldest first.
CREATE TABLE shipment_events (
  id          bigserial PRIMARY KEY,
  shipment_id text NOT NULL REFERENCES shipments (id),
  status      text NOT NULL CHECK (status IN ('created', 'cancelled', 'in_transit', 'delivered')),
  at          timestamptz NOT NULL,
  note        text
);
CREATE INDEX shipment_events_shipment ON shipment_events (shipment_id, id);

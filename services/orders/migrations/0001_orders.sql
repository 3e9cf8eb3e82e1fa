-- What orders knows of the catalog, built from catalog-events (never read from catalog's tables).
CREATE TABLE products (
  product_id   text PRIMARY KEY,
  name         text NOT NULL,
  price_amount integer NOT NULL,
  currency     char(3) NOT NULL,
  active       boolean NOT NULL,
  updated_at   timestamptz NOT NULL
);

CREATE TABLE orders (
  id             text PRIMARY KEY,
  customer_id    text NOT NULL,
  status         text NOT NULL,
  status_reason  text,
  failure_code   text,
  currency       char(3) NOT NULL,
  subtotal       integer NOT NULL CHECK (subtotal >= 0),
  discount       integer NOT NULL CHECK (discount >= 0),
  discount_code  text,
  total          integer NOT NULL CHECK (total >= 0),
  payment_method text NOT NULL,
  payment_token  text,
  payment_id     text,
  shipment_id    text,
  carrier        text,
  tracking_number text,
  source         text NOT NULL,
  stock_reserved boolean NOT NULL DEFAULT false,
  reserve_until  timestamptz NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_by_customer ON orders (customer_id, created_at DESC);
CREATE INDEX orders_open_by_deadline ON orders (reserve_until) WHERE status IN ('placed', 'awaiting_payment');

CREATE TABLE order_lines (
  order_id   text NOT NULL REFERENCES orders (id),
  product_id text NOT NULL,
  name       text NOT NULL,
  quantity   integer NOT NULL CHECK (quantity > 0),
  unit_price integer NOT NULL CHECK (unit_price >= 0),
  line_total integer NOT NULL CHECK (line_total >= 0),
  PRIMARY KEY (order_id, product_id)
);

CREATE TABLE order_status_history (
  id       bigserial PRIMARY KEY,
  order_id text NOT NULL REFERENCES orders (id),
  status   text NOT NULL,
  reason   text,
  at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_history_by_order ON order_status_history (order_id, id);

-- Responses to POSTs that carried an Idempotency-Key, replayed for a retry of the same request.
CREATE TABLE idempotency_keys (
  key          text PRIMARY KEY,
  request_hash text NOT NULL,
  status_code  integer NOT NULL,
  response     jsonb NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);

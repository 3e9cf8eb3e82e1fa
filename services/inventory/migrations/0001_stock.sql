-- One row per product inventory knows of (created by product_created, changed only with a movement).
CREATE TABLE stock (
  product_id text PRIMARY KEY,
  on_hand    integer NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
  reserved   integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (reserved <= on_hand)
);

-- Units held for an order. expires_at is cleared once the order is confirmed (paid).
CREATE TABLE reservations (
  order_id   text NOT NULL,
  product_id text NOT NULL REFERENCES stock (product_id),
  quantity   integer NOT NULL CHECK (quantity > 0),
  status     text NOT NULL CHECK (status IN ('active', 'released', 'committed', 'expired')),
  expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (order_id, product_id)
);
CREATE INDEX reservations_due ON reservations (expires_at) WHERE status = 'active';
CREATE INDEX reservations_product ON reservations (product_id) WHERE status = 'active';

-- The answer given to each order_placed, so a duplicate of the order never gets a second answer.
CREATE TABLE reservation_outcomes (
  order_id   text PRIMARY KEY,
  outcome    text NOT NULL CHECK (outcome IN ('reserved', 'insufficient')),
  decided_at timestamptz NOT NULL DEFAULT now()
);

-- The ledger: every change to stock, written in the same transaction as the change.
-- quantity is the signed change to on_hand (received, adjusted, sold) or to reserved
-- (reserved, released); sold lowers both.
CREATE TABLE stock_movements (
  id         bigserial PRIMARY KEY,
  product_id text NOT NULL REFERENCES stock (product_id),
  kind       text NOT NULL CHECK (kind IN ('received', 'adjusted', 'reserved', 'released', 'sold')),
  quantity   integer NOT NULL,
  order_id   text,
  reason     text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (
    (kind = 'adjusted')
    OR (kind IN ('received', 'reserved') AND quantity > 0)
    OR (kind IN ('released', 'sold') AND quantity < 0)
  )
);
CREATE INDEX stock_movements_product ON stock_movements (product_id, id DESC);

-- Idempotency-Key of stock updates: a retried request returns the first answer.
CREATE TABLE stock_update_requests (
  idempotency_key text PRIMARY KEY,
  product_id      text NOT NULL,
  request         jsonb NOT NULL,
  response        jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);

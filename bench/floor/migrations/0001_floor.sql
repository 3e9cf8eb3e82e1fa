-- The skeleton services of bench/floor.ts: one row per order (orders) and one per step (the others).
CREATE TABLE floor_orders (
  id           text PRIMARY KEY,
  run          integer NOT NULL,
  status       text NOT NULL,
  placed_at    timestamptz NOT NULL,
  confirmed_at timestamptz,
  completed_at timestamptz
);
CREATE INDEX floor_orders_run ON floor_orders (run);

CREATE TABLE floor_steps (
  order_id text NOT NULL,
  step     text NOT NULL,
  at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (order_id, step)
);

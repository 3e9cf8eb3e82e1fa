-- Every waiting step has a deadline; the timeout sweep ends orders whose deadline passed.
ALTER TABLE orders ADD COLUMN step_deadline timestamptz;
-- Set once order_cancelled (the last undo: stock) has been written for an ended order.
ALTER TABLE orders ADD COLUMN cancellation_emitted boolean NOT NULL DEFAULT false;
UPDATE orders SET step_deadline = reserve_until WHERE status IN ('placed', 'awaiting_payment');
UPDATE orders SET step_deadline = updated_at + interval '1 day' WHERE status IN ('payment_pending', 'confirmed', 'fulfilling');
UPDATE orders SET cancellation_emitted = true WHERE status IN ('rejected', 'payment_failed', 'cancelled');
CREATE INDEX orders_by_step_deadline ON orders (step_deadline) WHERE step_deadline IS NOT NULL;

-- The undos of an ended order, in the order they run (position): requested once, confirmed once.
CREATE TABLE order_compensations (
  order_id     text NOT NULL REFERENCES orders (id),
  step         text NOT NULL CHECK (step IN ('shipment', 'payment', 'stock')),
  action       text NOT NULL,
  position     integer NOT NULL,
  requested_at timestamptz,
  confirmed_at timestamptz,
  PRIMARY KEY (order_id, step)
);

-- Every change of an order raises its version. The saga decides an order's next event on this
-- instance's copy of it when it has one, and writes back only if the row still has the copy's
-- version (ADR 0012, session 19 amendment); order_unchanged fails the transaction otherwise, with
-- SQLSTATE 40001 (serialization_failure), and the event is handled again from a fresh read.
ALTER TABLE orders ADD COLUMN version integer NOT NULL DEFAULT 0;

CREATE FUNCTION order_unchanged(unchanged boolean, order_id text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF NOT unchanged THEN
    RAISE EXCEPTION 'order % changed since this copy of it was read', order_id USING ERRCODE = '40001';
  END IF;
  RETURN true;
END
$$;

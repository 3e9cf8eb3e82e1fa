-- Every change of an order raises its version. The saga decides an order's next event on this
-- instance's copy of it when it has one, and writes back only if the row still has the copy's
-- version (ADR 0012, session 19 amendment); the platform's assert_held fails the transaction
-- otherwise, with SQLSTATE 40001, and the event is handled again from a fresh read.
ALTER TABLE orders ADD COLUMN version integer NOT NULL DEFAULT 0;

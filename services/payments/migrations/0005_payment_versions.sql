-- Every change of a payment raises its version. A processor call's answer is recorded on the
-- payment as the call read it (before calling the processor) when the row still has that version:
-- the platform's assert_held fails the transaction otherwise (SQLSTATE 40001), and the answer is
-- then recorded the long way, on the payment read again under its lock (ADR 0012, session 19).
ALTER TABLE payments ADD COLUMN version integer NOT NULL DEFAULT 0;

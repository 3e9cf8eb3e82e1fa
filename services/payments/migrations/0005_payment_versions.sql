-- Every change of a payment raises its version. A processor call's answer is recorded on the
-- payment as the call read it (before calling the processor) when the row still has that version:
-- payment_call_unchanged fails the transaction otherwise (SQLSTATE 40001), and the answer is then
-- recorded the long way, on the payment read again under its lock (ADR 0012, session 19 amendment).
ALTER TABLE payments ADD COLUMN version integer NOT NULL DEFAULT 0;

CREATE FUNCTION payment_call_unchanged(unchanged boolean, call_id bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF NOT unchanged THEN
    RAISE EXCEPTION 'provider call %: its payment changed, or the call was recorded, since it was read', call_id USING ERRCODE = '40001';
  END IF;
  RETURN true;
END
$$;

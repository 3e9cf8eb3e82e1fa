-- A stock step's writes travel with the COMMIT of an event's transaction (ADR 0012, session 19
-- amendment), so their checks run in the same statement: this fails the transaction when one does
-- not hold (a reservation or stock row changed although it was locked: a bug, never a retry).
CREATE FUNCTION stock_step_held(held boolean, what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF NOT held THEN
    RAISE EXCEPTION '%', what;
  END IF;
  RETURN true;
END
$$;

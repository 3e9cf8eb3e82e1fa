-- The check of writes sent without reading their answer (deferred to the COMMIT, ADR 0012 session 19):
-- a statement's final SELECT calls assert_held(condition, message, sqlstate), which fails the
-- transaction with that message and SQLSTATE when the condition is false (40001 asks the caller to
-- try again from a fresh read; P0001 is a plain error).
CREATE FUNCTION assert_held(held boolean, message text, code text DEFAULT 'P0001') RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF NOT held THEN
    RAISE EXCEPTION USING MESSAGE = message, ERRCODE = code;
  END IF;
  RETURN true;
END
$$;

-- The card processor is remote now (the sandbox in sandboxes/card-processor, reached through the
-- stripe SDK) and keeps its own records: the in-service sandbox tables go.
DROP TABLE IF EXISTS sandbox_tokens;
DROP TABLE IF EXISTS sandbox_charges;

-- Calls to the processor an event asked for, made after the event's transaction commits and
-- never inside one; a call the processor could not answer is retried at due_at with the same
-- idempotency key. One payment's calls run in id order. Holds the processor's card token until the
-- authorization is answered (a token, never card data).
CREATE TABLE provider_calls (
  id             bigserial PRIMARY KEY,
  payment_id     text NOT NULL REFERENCES payments (id),
  kind           text NOT NULL CHECK (kind IN ('authorize', 'capture', 'release', 'cancel')),
  request        jsonb NOT NULL DEFAULT '{}'::jsonb,
  correlation_id text,
  attempts       integer NOT NULL DEFAULT 0,
  last_error     text,
  due_at         timestamptz NOT NULL DEFAULT now(),
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX provider_calls_payment ON provider_calls (payment_id, id);
CREATE INDEX provider_calls_due ON provider_calls (due_at);

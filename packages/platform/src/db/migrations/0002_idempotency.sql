-- POSTs sent with an Idempotency-Key (Stripe's semantics, see src/http/idempotency.ts). A row is
-- claimed (in progress, leased until locked_until) and committed BEFORE the work starts, then
-- completed with the response; a retry of the same request gets that response back.
-- Kept at least 24 hours; idempotency.cleanup() deletes older rows.
CREATE TABLE idempotency_requests (
  principal        text NOT NULL DEFAULT '',
  key              text NOT NULL,
  route            text NOT NULL,
  request_hash     text NOT NULL,
  lock_token       uuid,
  locked_until     timestamptz,
  response_status  integer,
  response_headers jsonb,
  response_body    text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  completed_at     timestamptz,
  PRIMARY KEY (principal, key),
  CHECK ((response_status IS NULL) = (completed_at IS NULL))
);
CREATE INDEX idempotency_requests_created ON idempotency_requests (created_at);

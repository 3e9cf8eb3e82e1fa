-- The sandbox card processor's own records, standing in for a processor's systems.
-- No card number and no CVC anywhere: a token keeps only what a processor shows merchants.
CREATE TABLE tokens (
  id         text PRIMARY KEY,
  card_id    text NOT NULL,
  brand      text NOT NULL,
  last4      char(4) NOT NULL,
  exp_month  smallint NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
  exp_year   smallint NOT NULL,
  outcome    text NOT NULL CHECK (outcome IN ('success', 'card_declined', 'insufficient_funds', 'expired_card', 'capture_fails')),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE payment_intents (
  id                  text PRIMARY KEY,
  amount              integer NOT NULL CHECK (amount > 0),
  currency            text NOT NULL,
  capture_method      text NOT NULL CHECK (capture_method IN ('automatic', 'manual')),
  status              text NOT NULL CHECK (status IN ('requires_payment_method', 'requires_capture', 'succeeded', 'canceled')),
  amount_capturable   integer NOT NULL DEFAULT 0,
  amount_received     integer NOT NULL DEFAULT 0,
  amount_refunded     integer NOT NULL DEFAULT 0 CHECK (amount_refunded <= amount_received),
  outcome             text NOT NULL,
  payment_method      text NOT NULL,
  latest_charge       text,
  client_secret       text NOT NULL,
  metadata            jsonb NOT NULL DEFAULT '{}'::jsonb,
  last_payment_error  jsonb,
  cancellation_reason text,
  canceled_at         timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE refunds (
  id             text PRIMARY KEY,
  payment_intent text NOT NULL REFERENCES payment_intents (id),
  charge         text NOT NULL,
  amount         integer NOT NULL CHECK (amount > 0),
  currency       text NOT NULL,
  reason         text,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refunds_payment_intent ON refunds (payment_intent);

-- Stripe's Idempotency-Key: the first answer to a key, replayed for the same request.
-- Only a hash of the request is kept, never its parameters (a token request carries a card).
CREATE TABLE idempotency_keys (
  key          text PRIMARY KEY,
  request_hash text NOT NULL,
  status       integer,
  body         jsonb,
  created_at   timestamptz NOT NULL DEFAULT now()
);

-- One payment per order; never any card data, only the provider's reference.
CREATE TABLE payments (
  id              text PRIMARY KEY,
  order_id        text NOT NULL UNIQUE,
  customer_id     text NOT NULL,
  amount          integer NOT NULL CHECK (amount >= 0),
  currency        char(3) NOT NULL,
  method          text NOT NULL,
  provider        text NOT NULL,
  provider_ref    text,
  status          text NOT NULL CHECK (status IN ('authorizing', 'authorized', 'declined', 'captured', 'voided', 'refunded', 'partially_refunded')),
  decline_code    text,
  failure_reason  text,
  captured_amount integer NOT NULL DEFAULT 0 CHECK (captured_amount >= 0 AND captured_amount <= amount),
  refunded_amount integer NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= captured_amount),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Audit log: one row per call to the provider, whatever its outcome.
CREATE TABLE payment_transactions (
  id              bigserial PRIMARY KEY,
  payment_id      text NOT NULL REFERENCES payments (id),
  kind            text NOT NULL CHECK (kind IN ('authorize', 'capture', 'void', 'refund')),
  amount          integer NOT NULL CHECK (amount >= 0),
  outcome         text NOT NULL CHECK (outcome IN ('succeeded', 'declined', 'failed')),
  code            text,
  provider_ref    text,
  reason          text,
  -- Set on staff refunds sent with an Idempotency-Key: a retry finds it and refunds nothing.
  idempotency_key text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (payment_id, idempotency_key)
);
CREATE INDEX payment_transactions_payment ON payment_transactions (payment_id, id);

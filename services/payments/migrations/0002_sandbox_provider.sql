-- State of the in-project sandbox processor, standing in for a card processor's own systems.
-- Tokens keep no card number and no CVC: only what a processor shows back to merchants.
CREATE TABLE sandbox_tokens (
  token      text PRIMARY KEY,
  brand      text NOT NULL,
  last4      char(4) NOT NULL,
  exp_month  smallint NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
  exp_year   smallint NOT NULL,
  outcome    text NOT NULL CHECK (outcome IN ('success', 'card_declined', 'insufficient_funds', 'expired_card')),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Authorizations the sandbox granted, so capture, void and refund are checked like a processor would.
CREATE TABLE sandbox_charges (
  provider_ref    text PRIMARY KEY,
  idempotency_key text NOT NULL UNIQUE,
  amount          integer NOT NULL CHECK (amount >= 0),
  currency        char(3) NOT NULL,
  status          text NOT NULL CHECK (status IN ('authorized', 'captured', 'voided')),
  captured_amount integer NOT NULL DEFAULT 0 CHECK (captured_amount <= amount),
  refunded_amount integer NOT NULL DEFAULT 0 CHECK (refunded_amount <= captured_amount),
  created_at      timestamptz NOT NULL DEFAULT now()
);

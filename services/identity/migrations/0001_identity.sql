-- Service secrets created once at setup (the password salt key; the key-encryption key in embedded mode only).
CREATE TABLE settings (
  name  text PRIMARY KEY,
  value text NOT NULL
);

-- Emails are claims, not identities, until verified: several customers may share one address;
-- an account is found by (email, password hash), the hash salted per email (see README).
CREATE TABLE customers (
  id            text PRIMARY KEY,
  email         text NOT NULL,
  name          text NOT NULL,
  password_hash text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX customers_credentials ON customers (email, password_hash);

CREATE TABLE staff (
  id            text PRIMARY KEY,
  email         text NOT NULL UNIQUE,
  name          text NOT NULL,
  roles         text[] NOT NULL CHECK (cardinality(roles) > 0 AND roles <@ ARRAY['admin', 'operations', 'support']::text[]),
  password_hash text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- One family per sign-in: every refresh rotates the token within it; revoking it ends the session.
CREATE TABLE refresh_families (
  id             text PRIMARY KEY,
  subject_type   text NOT NULL CHECK (subject_type IN ('customer', 'staff', 'guest')),
  subject_id     text NOT NULL,
  created_at     timestamptz NOT NULL,
  revoked_at     timestamptz,
  revoked_reason text
);
CREATE INDEX refresh_families_subject ON refresh_families (subject_id) WHERE revoked_at IS NULL;

-- Only SHA-256 digests of refresh tokens are stored.
CREATE TABLE refresh_tokens (
  token_hash text PRIMARY KEY,
  family_id  text NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
  issued_at  timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  rotated_at timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

-- Signing keys: the newest unretired one signs; retired ones stay published until publish_until.
CREATE TABLE signing_keys (
  kid           text PRIMARY KEY,
  alg           text NOT NULL,
  public_jwk    jsonb NOT NULL,
  private_key   text NOT NULL,
  created_at    timestamptz NOT NULL,
  retired_at    timestamptz,
  publish_until timestamptz
);
CREATE INDEX signing_keys_created ON signing_keys (created_at DESC);

-- A guest cart is handed to the first customer who signs in with the guest's token.
CREATE TABLE guest_claims (
  guest_id    text PRIMARY KEY,
  customer_id text NOT NULL,
  claimed_at  timestamptz NOT NULL
);

-- Read model of the catalog, fed by catalog-events; `as_of` is the occurredAt of the newest
-- event applied, so a late (older) event never overwrites a newer one.
CREATE TABLE products (
  id           text PRIMARY KEY,
  name         text NOT NULL,
  image_url    text,
  price_amount integer NOT NULL,
  currency     char(3) NOT NULL,
  active       boolean NOT NULL,
  as_of        timestamptz NOT NULL
);

-- Read model of stock, fed by stock_level_changed; newest occurredAt wins.
CREATE TABLE availability (
  product_id text PRIMARY KEY,
  available  integer NOT NULL,
  as_of      timestamptz NOT NULL
);

CREATE TABLE discount_codes (
  code         text PRIMARY KEY CHECK (code ~ '^[A-Z0-9]{3,32}$'),
  kind         text NOT NULL CHECK (kind IN ('percentage', 'fixed')),
  value        bigint NOT NULL CHECK (value > 0),
  currency     char(3),
  description  text NOT NULL,
  valid_from   timestamptz,
  valid_until  timestamptz,
  min_subtotal bigint CHECK (min_subtotal >= 0),
  active       boolean NOT NULL DEFAULT true,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CHECK (kind <> 'percentage' OR value <= 100),
  CHECK (kind <> 'fixed' OR currency IS NOT NULL)
);

CREATE TABLE carts (
  customer_id   text PRIMARY KEY,
  discount_code text REFERENCES discount_codes (code),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cart_lines (
  customer_id text NOT NULL REFERENCES carts (customer_id) ON DELETE CASCADE,
  product_id  text NOT NULL,
  quantity    integer NOT NULL CHECK (quantity BETWEEN 1 AND 999),
  added_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, product_id)
);

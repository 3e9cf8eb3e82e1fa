CREATE SEQUENCE product_number START 1000;

CREATE TABLE products (
  id           text PRIMARY KEY,
  sku          text NOT NULL UNIQUE,
  name         text NOT NULL,
  description  text NOT NULL DEFAULT '',
  category     text NOT NULL,
  image_url    text,
  price_amount integer NOT NULL CHECK (price_amount >= 0),
  currency     char(3) NOT NULL,
  active       boolean NOT NULL DEFAULT true,
  search       tsvector GENERATED ALWAYS AS (to_tsvector('simple', name || ' ' || description || ' ' || category)) STORED,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_category ON products (category, name);
CREATE INDEX products_price ON products (price_amount);
CREATE INDEX products_search ON products USING gin (search);

-- Where the parcel goes, as the customer entered it at checkout (null for orders placed without one).
ALTER TABLE orders ADD COLUMN IF NOT EXISTS shipping_address jsonb;

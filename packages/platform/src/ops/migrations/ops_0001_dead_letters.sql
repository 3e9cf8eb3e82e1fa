-- Events this service's consumer group parked on a dead-letter topic after exhausting retries,
-- recorded from `<topic>.dlq` so staff can list and replay them (GET /ops/dead-letters).
CREATE TABLE dead_letters (
  id              bigserial PRIMARY KEY,
  topic           text NOT NULL,
  partition       integer NOT NULL,
  original_offset text NOT NULL,
  key             text NOT NULL,
  type            text,
  event_id        text,
  value           text NOT NULL,
  headers         jsonb NOT NULL DEFAULT '{}',
  error           text NOT NULL,
  attempts        integer NOT NULL,
  parked_at       timestamptz NOT NULL DEFAULT now(),
  replayed_at     timestamptz,
  replay_outcome  text,
  -- Set when staff replayed it with corrected data.
  replayed_value  text,
  last_replay_error text,
  -- The dead-letter topic is delivered at least once, and a message may be parked twice.
  UNIQUE (topic, partition, original_offset)
);
CREATE INDEX dead_letters_parked ON dead_letters (id) WHERE replayed_at IS NULL;

-- The embedded event bus: one append-only log, partitioned by key like a Kafka topic.
CREATE TABLE messages (
  id         bigserial PRIMARY KEY,
  topic      text NOT NULL,
  partition  integer NOT NULL,
  key        text NOT NULL,
  value      text NOT NULL,
  headers    jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_by_partition ON messages (topic, partition, id);

-- The last message each consumer group has finished, per topic partition.
CREATE TABLE consumer_offsets (
  group_id  text NOT NULL,
  topic     text NOT NULL,
  partition integer NOT NULL,
  last_id   bigint NOT NULL,
  PRIMARY KEY (group_id, topic, partition)
);

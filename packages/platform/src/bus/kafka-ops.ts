/**
 * Staff operations on consumer groups of the Kafka adapter: rewind a group to the beginning of
 * its topics (a replay) and measure how far it is behind. Group and topic names are the ones
 * services use; the namespace is applied as the bus applies it.
 */
import kafkajs from 'kafkajs';
import type { Admin } from 'kafkajs';
import { kafkaNames } from './kafka';
import { deliveryTopic } from './types';

const { Kafka, logLevel } = kafkajs;

export interface KafkaGroupOpsOptions {
  brokers: string[];
  /** Same namespace as the services' buses (KAFKA_NAMESPACE). */
  namespace?: string;
  clientId?: string;
}

export interface KafkaGroupOps {
  /** Groups of this namespace the broker knows, with their state (`Empty` = no live member). */
  groups(): Promise<Array<{ group: string; state: string }>>;
  /** Topics a group has committed offsets on. */
  topicsOf(group: string): Promise<string[]>;
  /**
   * Moves every partition of `group`'s committed topics back to its earliest offset. The group
   * must have no live member (stop its consumers first). Resolves with how many messages the
   * group will receive again.
   */
  rewind(group: string): Promise<number>;
  /** Messages published to `group`'s topics that it has not committed yet. */
  lag(group: string): Promise<number>;
  /**
   * Deletes every topic and consumer group of the namespace: for runs that made one of their own
   * (benchmarks, tests), so the broker does not keep them. A broker's cost grows with its topics:
   * with 660 left behind by a day of bench runs, its metrics threads alone woke 600 times a second.
   * Groups must have no live member. Refuses without a namespace. Resolves with the topics deleted.
   */
  deleteNamespace(): Promise<number>;
  close(): Promise<void>;
}

export function createKafkaGroupOps(options: KafkaGroupOpsOptions): KafkaGroupOps {
  const names = kafkaNames(options.namespace);
  const inNamespace = (name: string) => !options.namespace || names.logicalTopic(name) !== name;
  const kafka = new Kafka({ clientId: options.clientId ?? 'emporium-ops', brokers: options.brokers, logLevel: logLevel.NOTHING });
  const admin: Admin = kafka.admin();
  let connected: Promise<void> | undefined;
  const ready = () => (connected ??= admin.connect());

  const committed = async (group: string) => {
    await ready();
    const topics = (await admin.listTopics()).filter((topic) => !topic.startsWith('__') && inNamespace(topic));
    const offsets = (await admin.fetchOffsets({ groupId: names.group(group), topics })).filter((t) => t.partitions.some((p) => Number(p.offset) >= 0));
    // A group that reads its delivery topics no longer reads the whole topics they copy, whatever
    // offsets it left there before it switched (an upgrade).
    const read = new Set(offsets.map((t) => t.topic));
    return offsets.filter((t) => !read.has(names.topic(deliveryTopic(names.logicalTopic(t.topic), group))));
  };

  return {
    async groups() {
      await ready();
      const { groups } = await admin.listGroups();
      const ours = groups.map((g) => g.groupId).filter(inNamespace);
      if (ours.length === 0) return [];
      const described = await admin.describeGroups(ours);
      return described.groups.map((g) => ({ group: names.logicalTopic(g.groupId), state: g.state }));
    },
    async topicsOf(group) {
      return (await committed(group)).map((t) => names.logicalTopic(t.topic));
    },
    async rewind(group) {
      let redelivered = 0;
      for (const { topic } of await committed(group)) {
        const watermarks = await admin.fetchTopicOffsets(topic);
        redelivered += watermarks.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
        await admin.setOffsets({ groupId: names.group(group), topic, partitions: watermarks.map((p) => ({ partition: p.partition, offset: p.low })) });
      }
      return redelivered;
    },
    async lag(group) {
      let behind = 0;
      for (const { topic, partitions } of await committed(group)) {
        const high = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
        for (const p of partitions) behind += Math.max(0, (high.get(p.partition) ?? 0) - Math.max(0, Number(p.offset)));
      }
      return behind;
    },
    async deleteNamespace() {
      if (!options.namespace) throw new Error('deleteNamespace needs a namespace: it would delete every topic of the installation');
      await ready();
      const { groups } = await admin.listGroups();
      const ours = groups.map((g) => g.groupId).filter(inNamespace);
      if (ours.length > 0) await admin.deleteGroups(ours);
      const topics = (await admin.listTopics()).filter((topic) => !topic.startsWith('__') && inNamespace(topic));
      for (let i = 0; i < topics.length; i += 100) await admin.deleteTopics({ topics: topics.slice(i, i + 100), timeout: 30_000 });
      return topics.length;
    },
    async close() {
      if (connected) await admin.disconnect();
    },
  };
}

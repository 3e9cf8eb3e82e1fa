import { makeEnvelope, type EventData, type EventType } from '@emporium/contracts';
import { eventually, type TestPlatform } from '@emporium/platform/testing';

/**
 * What orders' service tests do with events: publish one as another service would, and wait until
 * orders has handled it (its inbox holds it). `platform` is read when called, so a suite may create
 * it in its beforeAll.
 */
export function orderEvents(platform: () => TestPlatform) {
  return {
    async publish<T extends EventType>(topic: string, type: T, key: string, data: EventData<T>): Promise<string> {
      const envelope = makeEnvelope({ type, source: 'test', key, data });
      await platform().bus.publish([{ topic, key, value: JSON.stringify(envelope) }]);
      return envelope.id;
    },
    handled: (eventId: string) =>
      eventually(
        async () => (await platform().deps('orders').db.query('SELECT 1 FROM inbox WHERE consumer = $1 AND event_id = $2', ['orders', eventId])).rows.length > 0,
        10_000,
        `event ${eventId} handled`,
      ),
  };
}

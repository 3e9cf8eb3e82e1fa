import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbedded, type EmbeddedPlatform } from '@emporium/launcher/embedded';
import { TEST_ADMIN } from '../support/auth';
import { HANDLING_SERVICES, handledCounts, runCheckouts, snapshotSchema, unsentEvents, untilQuiet } from './support';

/**
 * Delivery is at least once, so every consumer must tolerate seeing everything again: replaying
 * every topic from the beginning to every consumer group, twice, must change no state and publish
 * nothing new.
 */
describe('replaying every topic to every consumer group (embedded)', () => {
  let platform: EmbeddedPlatform;
  const urls: Record<string, string> = {};

  beforeAll(async () => {
    platform = await startEmbedded({ port: 0, logLevel: 'silent', admin: TEST_ADMIN });
    for (const name of HANDLING_SERVICES) urls[name] = platform.services[name]!.url;
  }, 120_000);
  afterAll(async () => {
    await platform?.stop();
  }, 60_000);

  const sql = () => platform.pglite.forSchema('bus');

  const quiet = async () => {
    if ((await platform.bus.pending()) > 0) return false;
    for (const name of HANDLING_SERVICES) if ((await unsentEvents(sql(), name)) > 0) return false;
    return true;
  };

  const state = async () => {
    const snapshot: Record<string, unknown> = {};
    for (const name of HANDLING_SERVICES) snapshot[name] = await snapshotSchema(sql(), name);
    const { rows } = await sql().query<{ n: number }>('SELECT count(*) AS n FROM bus.messages');
    return { snapshot, busMessages: Number(rows[0]!.n) };
  };

  it('when every topic is replayed from the beginning to every group twice, then no state changes, nothing new is published and every redelivery is absorbed', async () => {
    await runCheckouts(platform.url);
    await untilQuiet(quiet, 'the checkouts to settle');
    const before = await state();
    expect(before.busMessages).toBeGreaterThan(20);

    for (const round of [1, 2]) {
      const counts = await handledCounts(urls);
      const redelivered = await platform.bus.replay();
      await untilQuiet(quiet, `replay ${round} to be consumed`);
      const after = await state();
      const delta = await handledCounts(urls);
      expect(redelivered, `replay ${round}`).toBeGreaterThan(before.busMessages);
      expect(after.snapshot, `replay ${round}: service state`).toEqual(before.snapshot);
      expect(after.busMessages, `replay ${round}: bus messages`).toBe(before.busMessages);
      // Nothing was handled anew or failed: each redelivery was an inbox duplicate or a type the group ignores.
      expect(delta.handled - counts.handled).toBe(0);
      expect(delta.failed - counts.failed).toBe(0);
      expect(delta.duplicate - counts.duplicate + delta.ignored - counts.ignored).toBe(redelivered);
      console.log(
        `embedded replay ${round}: ${redelivered} deliveries replayed over ${before.busMessages} messages; ` +
          `${delta.duplicate - counts.duplicate} absorbed as inbox duplicates, ${delta.ignored - counts.ignored} ignored by type; state unchanged`,
      );
    }
  }, 180_000);
});

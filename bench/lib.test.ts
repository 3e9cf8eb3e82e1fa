import { describe, expect, it } from 'vitest';
import { alternatingLoops, describeBroker, type HttpResult } from './lib';

/** A request that answers after `ms` and records which loop sent it and when. */
const timedRequest = (name: string, ms: number, log: Array<{ name: string; at: number }>, status = 200) => async (): Promise<HttpResult> => {
  log.push({ name, at: performance.now() });
  await new Promise((r) => setTimeout(r, ms));
  return { status, body: null, ms };
};

describe('loops measured in turns', () => {
  it('never sends the two requests at once, alternates slice by slice, and counts each on its own', async () => {
    const log: Array<{ name: string; at: number }> = [];
    const [fast, slow] = await alternatingLoops(timedRequest('fast', 2, log), timedRequest('slow', 10, log, 503), { connections: 4, slices: 3, sliceSeconds: 0.2, warmUpSeconds: 0.1 });

    // Runs of one name, in the order they were sent: warm-up of each, then three slices of each in turns.
    const runs = log.reduce<Array<{ name: string; sent: number }>>((acc, { name }) => {
      if (acc.at(-1)?.name === name) acc.at(-1)!.sent++;
      else acc.push({ name, sent: 1 });
      return acc;
    }, []);
    expect(runs.map((r) => r.name)).toEqual(['fast', 'slow', 'fast', 'slow', 'fast', 'slow', 'fast', 'slow']);

    // Four connections for 0.6 s: about 2,000 answers/s at 2 ms each and 400/s at 10 ms (timers are coarse, so loosely).
    expect(fast.rps).toBeGreaterThan(slow.rps * 2);
    expect(slow.rps).toBeGreaterThan(100);
    expect(slow.rps).toBeLessThan(500);
    expect(fast.errors).toBe(0);
    // Every slow answer is an error, and only those of the three measured slices count (not the warm-up's).
    expect(slow.errors).toBe(runs.filter((r) => r.name === 'slow').slice(1).reduce((n, r) => n + r.sent, 0));
    expect(slow.latency.p50).toBe(10);
  });
});

describe('the broker in the machine line', () => {
  const args = ['java', '-Xms256m', '-Xmx512m', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-Djava.awt.headless=true', '-cp', '/repo/.kafka/libs/*', 'kafka.Kafka', 'server.properties'];

  it('names the version from the broker jar, the JVM flags, and how long it has been up', () => {
    const libs = ['kafka-clients-3.9.1.jar', 'kafka_2.13-3.9.1.jar', 'zstd-jni-1.5.6-4.jar'];
    expect(describeBroker(args, libs, 95)).toBe('Apache Kafka 3.9.1 (KRaft, 1 broker, -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20; up 95 s when the run began)');
    expect(describeBroker(args, libs, 3_600)).toContain('up 60 min when the run began');
  });

  it('says so when the broker jar is not among the libraries', () => {
    expect(describeBroker(args, ['kafka-clients-3.9.1.jar'], 10)).toContain('Apache Kafka version unknown');
  });
});

import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics';

/** Times this process's main thread went to sleep and was woken again (Linux). */
const mainThreadWakeUps = () => Number(/\nvoluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${process.pid}/task/${process.pid}/status`, 'utf8'))![1]);

describe("a service's metrics", () => {
  it.runIf(existsSync('/proc/self/task'))('do not wake an idle process a hundred times a second to sample its event loop', async () => {
    createMetrics('metrics_test_idle');
    const before = mainThreadWakeUps();
    await new Promise((r) => setTimeout(r, 1000));
    // prom-client's default sampling (every 10 ms) alone wakes the thread about 100 times in this second.
    expect(mainThreadWakeUps() - before).toBeLessThan(50);
  });

  it("include the process's own figures, event-loop lag among them, labelled with the service", async () => {
    const metrics = createMetrics('metrics_test_lag');
    await new Promise((r) => setTimeout(r, 120));
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds\{service="metrics_test_lag"\} \d/m);
    expect(text).toMatch(/^process_cpu_seconds_total\{service="metrics_test_lag"\} /m);
  });
});

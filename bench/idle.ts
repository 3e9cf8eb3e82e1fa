/**
 * What the distributed platform costs while nobody shops (`tsx bench/idle.ts`): starts it, lets it
 * settle, then counts for each process (every service, the gateway, the card processor, the Kafka
 * broker, this run's PostgreSQL backends) the CPU it used and how often its threads were woken
 * (context switches, from /proc) over a quiet window. Each wake-up of an idle process is a timer or
 * a poll that costs CPU on a machine whose cores the services share.
 *   tsx bench/idle.ts [--settle 20] [--seconds 10] [--port 3880] [--db-prefix perf_idle]
 */
import { dropServiceDatabases, SANDBOX_NAMES, SERVICE_NAMES } from '@emporium/launcher/distributed';
import { argOf, cpuMsOf, kafkaPid, postgresBackends, round, startBenchPlatform, wakeUpsOf } from './lib';

const SETTLE_S = Number(argOf('settle', '20'));
const SECONDS = Number(argOf('seconds', '10'));
const PREFIX = argOf('db-prefix', 'perf_idle');
const PORT = Number(argOf('port', '3880'));

/** This run's databases, as the launcher names them. */
const DATABASES = [...SERVICE_NAMES, ...SANDBOX_NAMES].map((n) => `${PREFIX}_${n.replace(/-/g, '_')}`);

await dropServiceDatabases(PREFIX);
const platform = await startBenchPlatform({ prefix: PREFIX, port: PORT, namespace: `idle-${Math.random().toString(36).slice(2, 8)}` });
try {
  const groups: Record<string, () => number[]> = Object.fromEntries([...SERVICE_NAMES, ...SANDBOX_NAMES, 'gateway' as const].map((name) => [name, () => [platform.pid(name)!]]));
  const broker = kafkaPid();
  if (broker) groups['kafka broker (shared)'] = () => [broker];
  groups[`postgres backends (${PREFIX}_*)`] = () => postgresBackends(DATABASES).map((b) => b.pid);
  /** Per process: CPU ms and context switches so far. */
  const sample = () =>
    Object.fromEntries(Object.entries(groups).map(([name, pids]) => [name, new Map(pids().map((p) => [p, { cpu: cpuMsOf(p) ?? 0, switches: wakeUpsOf(p) ?? NaN }]))]));
  process.stderr.write(`[idle] platform ready; settling for ${SETTLE_S} s, then measuring for ${SECONDS} s\n`);
  await new Promise((r) => setTimeout(r, SETTLE_S * 1000));
  const before = sample();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const after = sample();
  const lines = ['| process | CPU ms per second | wake-ups per second |', '| --- | --- | --- |'];
  let cpuTotal = 0;
  let switchTotal = 0;
  for (const name of Object.keys(groups)) {
    // Only processes present throughout the window count (a pool may close an idle backend meanwhile).
    let cpu = 0;
    let switches = 0;
    for (const [pid, end] of after[name]!) {
      const start = before[name]!.get(pid);
      if (!start || !Number.isFinite(start.switches + end.switches)) continue;
      cpu += (end.cpu - start.cpu) / SECONDS;
      switches += (end.switches - start.switches) / SECONDS;
    }
    cpuTotal += cpu;
    switchTotal += switches;
    lines.push(`| ${name} | ${round(cpu)} | ${round(switches, 0)} |`);
  }
  lines.push(`| **all** | **${round(cpuTotal)}** | **${round(switchTotal, 0)}** |`);
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await platform.stop();
}

import { readdirSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { SANDBOX_NAMES, SERVICE_NAMES, startDistributed } from '@emporium/launcher/distributed';
import { createKafkaGroupOps } from '@emporium/platform';
import { NO_RATE_LIMITS_ENV, TEST_ADMIN } from '../tests/support/auth';

/**
 * The distributed platform as the bench tools run it: ports from `port`, databases `<prefix>_<service>`,
 * a Kafka namespace of its own, logs at warn, no rate limits at the gateway. `env` goes to every
 * service and sandbox, `gatewayEnv` to the gateway. The caller prepares (drops) the databases.
 * Stopping it also deletes the namespace's topics and groups, so bench runs do not pile them up on
 * the broker (its cost grows with its topics: see KafkaGroupOps.deleteNamespace).
 */
export async function startBenchPlatform(options: { prefix: string; port: number; namespace: string; env?: Record<string, string>; gatewayEnv?: Record<string, string> }) {
  const platform = await startDistributed({
    gatewayPort: options.port,
    servicePortBase: options.port,
    databasePrefix: options.prefix,
    logLevel: 'warn',
    admin: TEST_ADMIN,
    env: {
      gateway: { ...NO_RATE_LIMITS_ENV, ...options.gatewayEnv },
      ...Object.fromEntries([...SERVICE_NAMES, ...SANDBOX_NAMES].map((name) => [name, { KAFKA_NAMESPACE: options.namespace, ...options.env }])),
    },
  });
  const stop = platform.stop.bind(platform);
  platform.stop = async () => {
    await stop();
    const ops = createKafkaGroupOps({ brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','), namespace: options.namespace });
    try {
      await ops.deleteNamespace();
    } catch (error) {
      process.stderr.write(`[bench] could not delete Kafka namespace ${options.namespace}: ${String(error)}\n`);
    } finally {
      await ops.close();
    }
  };
  return platform;
}

/** The value after `--<name>` on the command line, or `fallback`. */
export function argOf(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

/** The PostgreSQL backends serving `databases`, from their process titles (`postgres: user db host …`). */
export function postgresBackends(databases: readonly string[]): Array<{ pid: number; db: string }> {
  const found: Array<{ pid: number; db: string }> = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let title: string;
    try {
      title = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const db = databases.find((d) => title.includes(` ${d} `));
    if (title.startsWith('postgres:') && db) found.push({ pid: Number(pid), db });
  }
  return found;
}

/** Latency percentiles in ms (nearest rank). */
export function percentiles(samples: number[]): { p50: number; p95: number; p99: number; max: number; n: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!);
  return { p50: at(50), p95: at(95), p99: at(99), max: s[s.length - 1] ?? NaN, n: s.length };
}

export const round = (v: number, digits = 1) => (Number.isFinite(v) ? Math.round(v * 10 ** digits) / 10 ** digits : NaN);

/**
 * Context switches of every thread of a process so far, from /proc (voluntary: it slept and was woken;
 * involuntary: preempted); undefined once it is gone. On this project's VM a wake-up costs far more than
 * the work many of them do, so fewer is cheaper.
 */
export function wakeUpsOf(pid: number | string): number | undefined {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  let total = 0;
  for (const task of tasks) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8');
      total += Number(/\nvoluntary_ctxt_switches:\s+(\d+)/.exec(status)![1]) + Number(/\nnonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)![1]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return total;
}

/** CPU milliseconds (user + system) a process has used so far, from /proc; undefined once it is gone. */
export function cpuMsOf(pid: number | string): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return undefined;
  }
}

/** The pid of the Kafka broker listening on 9092 (scripts/kafka.sh), if any. */
export function kafkaPid(): number | undefined {
  const out = execSync("ss -ltnpH 'sport = :9092'").toString();
  const m = /pid=(\d+)/.exec(out);
  return m ? Number(m[1]) : undefined;
}

/** CPU seconds (user+system) and RSS of a process, from /proc. */
export function processStats(pid: number): { cpuSeconds: number; rssMb: number } | undefined {
  const cpuMs = cpuMsOf(pid);
  if (cpuMs === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return { cpuSeconds: cpuMs / 1000, rssMb: rssKb / 1024 };
  } catch {
    return undefined;
  }
}

/** CPU milliseconds (user + system) this process has used so far. */
export function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** SIGTERM, then SIGKILL after 15 s; resolves once the child has exited. */
export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise<void>((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', () => done());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
  });
}

/** The yardstick (bench/hello-world.ts) in a child process on `port`, once it answers. */
export async function startHelloWorld(port: number): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./hello-world.ts', import.meta.url))], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/`)).ok) break;
    } catch (error) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`hello-world did not answer on ${url}`, { cause: error });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { url, pid: child.pid!, stop: () => stopChild(child) };
}

/** Samples CPU% and peak RSS of named processes while a phase runs. */
export function sampleProcesses(pids: Record<string, number>) {
  const start = Object.fromEntries(Object.entries(pids).map(([n, p]) => [n, processStats(p)]));
  const peak: Record<string, number> = {};
  const began = Date.now();
  const timer = setInterval(() => {
    for (const [name, pid] of Object.entries(pids)) {
      const s = processStats(pid);
      if (s) peak[name] = Math.max(peak[name] ?? 0, s.rssMb);
    }
  }, 500);
  return () => {
    clearInterval(timer);
    const seconds = (Date.now() - began) / 1000;
    return Object.fromEntries(
      Object.entries(pids).map(([name, pid]) => {
        const end = processStats(pid);
        const cpu = end && start[name] ? ((end.cpuSeconds - start[name]!.cpuSeconds) / seconds) * 100 : NaN;
        return [name, { cpuPercent: round(cpu, 0), peakRssMb: round(Math.max(peak[name] ?? 0, end?.rssMb ?? 0), 0) }];
      }),
    ) as Record<string, { cpuPercent: number; peakRssMb: number }>;
  };
}

export interface HttpResult {
  status: number;
  body: unknown;
  ms: number;
}

export function client(baseUrl: string, connections = 128) {
  const pool = new Pool(baseUrl, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const send = async (method: string, path: string, body: unknown, headers: Record<string, string>, read: boolean): Promise<HttpResult> => {
    const started = performance.now();
    const res = await pool.request({
      method: method as 'GET',
      path,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    if (!read) {
      await res.body.dump({ limit: Number.MAX_SAFE_INTEGER });
      return { status: res.statusCode, body: null, ms: performance.now() - started };
    }
    const text = await res.body.text();
    const ms = performance.now() - started;
    return { status: res.statusCode, body: text ? JSON.parse(text) : null, ms };
  };
  return {
    request: (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => send(method, path, body, headers, true),
    /**
     * Reads the answer's bytes without parsing them, for throughput loops: the load generator shares
     * the cores, and parsing a 5 KB product list per answer (but 17 bytes of hello-world) took
     * CPU from the server measured, not from the yardstick.
     */
    hit: (method: string, path: string) => send(method, path, undefined, {}, false),
    close: () => pool.close(),
  };
}

/** An order that reached a terminal status, with the server's time of each status it went through. */
export interface EndedOrder {
  id: string;
  status: string;
  /** Epoch ms of the first history entry with this status (NaN if it never had it). */
  at(status: string): number;
}

/** A round of watching stops after this many orders that have not ended yet. */
const STILL_RUNNING_PER_ROUND = 5;

/**
 * Waits for accepted orders to end and reads each one's history once it has (server clock).
 * Orders end roughly in the order they were placed: a round reads the oldest pending ones and stops
 * at the first few still running, so watching costs a few requests per round instead of one per
 * pending order — which loaded the very services being measured while they drained.
 */
export async function watchOrders(
  http: ReturnType<typeof client>,
  staffHeaders: Record<string, string>,
  orderIds: readonly string[],
  timeoutMs: number,
): Promise<{ ended: EndedOrder[]; pending: string[] }> {
  const deadline = Date.now() + timeoutMs;
  const ended: EndedOrder[] = [];
  const pending = new Set(orderIds);
  while (pending.size > 0 && Date.now() < deadline) {
    let running = 0;
    for (const id of pending) {
      const order = (await http.request('GET', `/api/orders/${id}`, undefined, staffHeaders)).body as { terminal: boolean; status: string; history: Array<{ status: string; at: string }> };
      if (!order.terminal) {
        if (++running === STILL_RUNNING_PER_ROUND) break;
        continue;
      }
      pending.delete(id);
      ended.push({ id, status: order.status, at: (s) => Date.parse(order.history.find((h) => h.status === s)?.at ?? '') });
    }
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 250));
  }
  return { ended, pending: [...pending] };
}

/**
 * Seconds a throughput loop runs before it counts. V8 optimizes a route's code only after it has run hot
 * for a while: in session 15, three 5-s rounds of the distributed product list in a row measured 44%, then
 * up to 85%, of hello-world, the first round after start being the low one.
 */
export const CLOSED_LOOP_WARM_UP_S = 2;

/** What a closed loop measured: requests/s over the time it counted, errors, latency percentiles. */
export type LoopResult = { rps: number; errors: number; latency: ReturnType<typeof percentiles> };

/** Closed loop: `connections` workers hammer one request for `seconds` after a warm-up; returns requests/s and latencies. */
export async function closedLoop(run: () => Promise<HttpResult>, connections: number, seconds: number, warmUpSeconds = CLOSED_LOOP_WARM_UP_S): Promise<LoopResult> {
  if (warmUpSeconds > 0) await loopFor(run, connections, warmUpSeconds);
  return resultOf([await loopFor(run, connections, seconds)]);
}

/**
 * Two closed loops measured in turns: after each one's warm-up, `slices` rounds of `sliceSeconds` of the
 * first, then of the second. This host's speed drifts by half within minutes, so two figures measured
 * one after the other can differ by that much for no reason of theirs; in turns, the drift falls on both.
 */
export async function alternatingLoops(
  first: () => Promise<HttpResult>,
  second: () => Promise<HttpResult>,
  options: { connections: number; slices: number; sliceSeconds: number; warmUpSeconds?: number },
): Promise<[LoopResult, LoopResult]> {
  const warmUp = options.warmUpSeconds ?? CLOSED_LOOP_WARM_UP_S;
  const slices: [Slice[], Slice[]] = [[], []];
  for (const run of [first, second]) if (warmUp > 0) await loopFor(run, options.connections, warmUp);
  for (let round = 0; round < options.slices; round++) {
    for (const [i, run] of [first, second].entries()) slices[i]!.push(await loopFor(run, options.connections, options.sliceSeconds));
  }
  return [resultOf(slices[0]), resultOf(slices[1])];
}

interface Slice {
  latencies: number[];
  errors: number;
  seconds: number;
}

/** `connections` workers send `run` one after another until `seconds` have passed; the time counted ends with the last answer. */
async function loopFor(run: () => Promise<HttpResult>, connections: number, seconds: number): Promise<Slice> {
  const latencies: number[] = [];
  let errors = 0;
  const began = performance.now();
  const deadline = began + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline) {
        try {
          const r = await run();
          if (r.status >= 400) errors++;
          latencies.push(r.ms);
        } catch {
          errors++;
        }
      }
    }),
  );
  return { latencies, errors, seconds: (performance.now() - began) / 1000 };
}

function resultOf(slices: readonly Slice[]): LoopResult {
  const latencies = slices.flatMap((s) => s.latencies);
  const seconds = slices.reduce((sum, s) => sum + s.seconds, 0);
  return { rps: round(latencies.length / seconds, 0), errors: slices.reduce((sum, s) => sum + s.errors, 0), latency: percentiles(latencies) };
}

export function machine(): string {
  const cpu = cpus();
  let postgres = 'unknown';
  try {
    postgres = execSync("psql -h 127.0.0.1 -U postgres -Atc 'show server_version'", { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    // not installed
  }
  return `${cpu.length} × ${cpu[0]?.model.trim()}, ${round(totalmem() / 1024 ** 3, 0)} GiB RAM, Linux; Node ${process.version}; PostgreSQL ${postgres}; ${broker()}`;
}

/**
 * The broker as it runs: version, JVM flags and how long it has been up. A broker started minutes
 * before a run spends part of it compiling its own code (bench/RESULTS.md, sessions 15 and 25).
 */
export function describeBroker(args: readonly string[], libs: readonly string[], upSeconds: number): string {
  const version = libs.map((jar) => /^kafka_[\d.]+-([\w.-]+)\.jar$/.exec(jar)?.[1]).find(Boolean) ?? 'version unknown';
  const flags = args.filter((a) => a.startsWith('-X')).join(' ');
  const up = upSeconds < 120 ? `${Math.round(upSeconds)} s` : `${Math.round(upSeconds / 60)} min`;
  return `Apache Kafka ${version} (KRaft, 1 broker, ${flags}; up ${up} when the run began)`;
}

function broker(): string {
  const pid = kafkaPid();
  if (pid === undefined) return 'no Kafka broker on 9092';
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const classPath = args[args.indexOf('-cp') + 1] ?? '';
    const libs = classPath.endsWith('/*') ? readdirSync(classPath.slice(0, -2)) : [];
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const startedTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return describeBroker(args, libs, uptime - startedTicks / 100);
  } catch {
    return `Apache Kafka (pid ${pid}, not readable)`;
  }
}

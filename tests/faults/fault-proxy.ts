/**
 * A small TCP fault proxy on `node:net` (there is no toxiproxy or tc netem here): clients connect to
 * `port`, every connection is piped to `target`, and faults can be switched on and off at any time.
 *
 * - latency: each chunk is held `ms` before it is forwarded, per direction, order kept.
 * - blackhole: connections are accepted but nothing is forwarded either way (bytes are dropped), as
 *   if the network ate them; heal() then closes the connections that lost bytes.
 * - reset: every open connection is destroyed now (with a TCP RST); optionally new connections are
 *   refused (accepted and reset at once) for a while.
 * - heal: no latency, no blackhole, no refusal.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

export interface Latency {
  /** Client → target, ms. */
  upstream?: number;
  /** Target → client, ms. */
  downstream?: number;
}

export interface FaultProxyStats {
  accepted: number;
  refused: number;
  resets: number;
  open: number;
}

export interface FaultProxy {
  readonly name: string;
  readonly port: number;
  latency(latency: Latency): void;
  blackhole(): void;
  /** Destroys every open connection; new ones are refused for `refuseMs` (default 0). */
  reset(options?: { refuseMs?: number }): void;
  heal(): void;
  stats(): FaultProxyStats;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  name?: string;
  /** Port to listen on (127.0.0.1); 0 (default) picks a free one. */
  port?: number;
  target: { host?: string; port: number };
}

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  /** Bytes were dropped by a blackhole: the protocol stream is broken, close it on heal. */
  tainted: boolean;
}

/**
 * Forwards chunks from `from` to `to` after `delay()` ms, keeping their order. One queue and one
 * timer for its head: a timer per chunk let chunks overtake each other once the latency changed
 * (Node fires expired timers grouped by their duration, not by when they are due), which no TCP
 * connection does, and a Kafka client reading the reordered bytes crashed on a garbled frame.
 */
function pipeDelayed(from: Socket, to: () => Socket | undefined, delay: () => number, dropping: () => boolean, onDrop: () => void): void {
  const waiting: Array<{ due: number; chunk: Buffer }> = [];
  let timer: NodeJS.Timeout | undefined;
  const forward = () => {
    timer = undefined;
    const now = Date.now();
    while (waiting.length > 0 && waiting[0]!.due <= now) {
      const { chunk } = waiting.shift()!;
      const target = to();
      if (target && !target.destroyed) target.write(chunk);
    }
    if (waiting.length > 0) timer = setTimeout(forward, waiting[0]!.due - now);
  };
  from.on('data', (chunk: Buffer) => {
    if (dropping()) return onDrop();
    // Never overtake a chunk already waiting (the latency may have changed in between).
    waiting.push({ due: Math.max(Date.now() + delay(), waiting.at(-1)?.due ?? 0), chunk });
    if (timer === undefined) forward();
  });
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const name = options.name ?? `proxy→${options.target.port}`;
  const host = options.target.host ?? '127.0.0.1';
  const pairs = new Set<Pair>();
  let delays: Required<Latency> = { upstream: 0, downstream: 0 };
  let holeOpen = false;
  let refuseUntil = 0;
  const counts = { accepted: 0, refused: 0, resets: 0 };

  const drop = (pair: Pair) => {
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  };
  const cut = (pair: Pair) => {
    pairs.delete(pair);
    if (!pair.client.destroyed) pair.client.resetAndDestroy();
    if (pair.upstream && !pair.upstream.destroyed) pair.upstream.resetAndDestroy();
  };

  const server: Server = createServer((client) => {
    client.on('error', () => undefined);
    if (Date.now() < refuseUntil) {
      counts.refused++;
      client.resetAndDestroy();
      return;
    }
    counts.accepted++;
    const pair: Pair = { client, upstream: undefined, tainted: false };
    pairs.add(pair);
    const taint = () => {
      pair.tainted = true;
    };
    const open = () => {
      const upstream = connect({ host, port: options.target.port });
      pair.upstream = upstream;
      upstream.setNoDelay(true);
      upstream.on('error', () => undefined);
      upstream.on('close', () => drop(pair));
      pipeDelayed(upstream, () => client, () => delays.downstream, () => holeOpen, taint);
    };
    client.setNoDelay(true);
    client.on('close', () => drop(pair));
    pipeDelayed(client, () => pair.upstream, () => delays.upstream, () => holeOpen, taint);
    // A connection accepted into a blackhole reaches nothing until heal() closes it.
    if (holeOpen) taint();
    else open();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });

  return {
    name,
    port: (server.address() as AddressInfo).port,
    latency(latency) {
      delays = { upstream: Math.max(0, latency.upstream ?? 0), downstream: Math.max(0, latency.downstream ?? 0) };
    },
    blackhole() {
      holeOpen = true;
    },
    reset(resetOptions = {}) {
      refuseUntil = Date.now() + (resetOptions.refuseMs ?? 0);
      counts.resets++;
      for (const pair of [...pairs]) cut(pair);
    },
    heal() {
      delays = { upstream: 0, downstream: 0 };
      holeOpen = false;
      refuseUntil = 0;
      for (const pair of [...pairs]) if (pair.tainted) cut(pair);
    },
    stats: () => ({ ...counts, open: pairs.size }),
    async close() {
      for (const pair of [...pairs]) cut(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy, type FaultProxy } from './fault-proxy';

/** An echo server stands in for PostgreSQL or Kafka. */
let echo: Server;
let proxy: FaultProxy;
const sockets: Socket[] = [];

beforeAll(async () => {
  echo = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  proxy = await startFaultProxy({ name: 'echo', target: { port: (echo.address() as AddressInfo).port } });
});

afterEach(() => {
  proxy.heal();
  for (const socket of sockets.splice(0)) socket.destroy();
});

afterAll(async () => {
  await proxy.close();
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

const open = () =>
  new Promise<Socket>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: proxy.port });
    sockets.push(socket);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });

/** The next data the socket receives, or 'closed' / 'silence' (nothing within `ms`). */
const nextReply = (socket: Socket, ms = 2_000) =>
  new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve('silence'), ms);
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      resolve(chunk.toString());
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
    socket.once('error', () => undefined);
  });

describe('the TCP fault proxy', () => {
  it('when healthy, then bytes pass both ways unchanged', async () => {
    const socket = await open();
    const reply = nextReply(socket);
    socket.write('ping');
    expect(await reply).toBe('ping');
  });

  it('when latency is set per direction, then a round trip takes at least both delays and keeps the byte order', async () => {
    proxy.latency({ upstream: 150, downstream: 100 });
    const socket = await open();
    let received = '';
    const started = Date.now();
    const done = new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString();
        if (received.length >= 6) resolve();
      });
    });
    socket.write('ab');
    socket.write('cd');
    socket.write('ef');
    await done;
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    expect(received).toBe('abcdef');
  });

  it('when the latency is lifted while chunks still wait, then the chunks sent since do not overtake them or each other (TCP never reorders bytes)', async () => {
    const socket = await open();
    socket.setNoDelay(true);
    let written = '';
    let received = '';
    socket.on('data', (chunk: Buffer) => void (received += chunk.toString()));
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const writeFor = async (ms: number) => {
      const until = Date.now() + ms;
      for (let i = written.length; Date.now() < until; i++) {
        written += `${i};`;
        socket.write(`${i};`);
        await sleep(1);
      }
    };
    for (let round = 0; round < 3; round++) {
      proxy.latency({ upstream: 100, downstream: 0 });
      await writeFor(60);
      // Lifted: what is written now waits for the chunks still held, each on a timer of its own length.
      proxy.heal();
      await writeFor(120);
    }
    const deadline = Date.now() + 5_000;
    while (received.length < written.length && Date.now() < deadline) await sleep(20);
    expect(received.length).toBe(written.length);
    expect(received === written, 'the echoed bytes arrive in the order they were written').toBe(true);
  });

  it('when blackholed, then connections are accepted but nothing comes back, and heal closes the ones that lost bytes', async () => {
    const before = await open();
    proxy.blackhole();
    const during = await open();
    const silent = [nextReply(before, 400), nextReply(during, 400)];
    before.write('lost');
    during.write('lost too');
    expect(await Promise.all(silent)).toEqual(['silence', 'silence']);

    const closed = [nextReply(before), nextReply(during)];
    proxy.heal();
    expect(await Promise.all(closed)).toEqual(['closed', 'closed']);
    const after = await open();
    const reply = nextReply(after);
    after.write('back');
    expect(await reply).toBe('back');
  });

  it('when reset with a refusal window, then open connections are cut, new ones are refused, and after the window they pass again', async () => {
    const socket = await open();
    const cut = nextReply(socket);
    proxy.reset({ refuseMs: 60_000 });
    expect(await cut).toBe('closed');

    const refused = await open().then((s) => nextReply(s), () => 'closed');
    expect(refused).toBe('closed');
    expect(proxy.stats()).toMatchObject({ refused: 1, open: 0 });

    proxy.heal();
    const again = await open();
    const reply = nextReply(again);
    again.write('pong');
    expect(await reply).toBe('pong');
  });
});

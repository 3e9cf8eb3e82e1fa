import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCartClient } from '../src/cart-client';

/** A stand-in cart service: answers by customer id. */
describe('the cart client orders reads a cart with', () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    server = createServer((request, response) => {
      const customer = decodeURIComponent(request.url!.split('/')[2]!);
      if (customer === 'broken') return void response.writeHead(500).end('{}');
      if (customer === 'slow') return void setTimeout(() => response.writeHead(200, { 'content-type': 'application/json' }).end('{"lines":[],"discount":null}'), 3_000);
      if (customer === 'garbled') return void response.writeHead(200, { 'content-type': 'application/json' }).end('{"lines": [');
      response.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ customerId: customer, lines: [{ productId: 'p1', quantity: 2, name: 'One', unitPrice: 500 }], discount: { code: 'TEN', amount: 100, reason: null } }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it('when the cart answers, then its lines and discount come back, and the id is escaped in the path', async () => {
    const client = createCartClient(url);
    try {
      expect(await client.read('gst_a/b')).toEqual({ lines: [{ productId: 'p1', quantity: 2 }], discount: { code: 'TEN', amount: 100 } });
    } finally {
      await client.close();
    }
  });

  it('when the cart service fails, is too slow, answers garbage or is not there, then each is a 503 saying the cart is unavailable', async () => {
    const client = createCartClient(url, 100);
    const nobody = createCartClient('http://127.0.0.1:9', 100);
    try {
      // undici checks its timeouts on a coarse tick: 100 ms fires well before the 3 s answer.
      for (const attempt of [() => client.read('broken'), () => client.read('slow'), () => client.read('garbled'), () => nobody.read('anyone')]) {
        await expect(attempt()).rejects.toMatchObject({ status: 503, code: 'ORDERS.CART_UNAVAILABLE' });
      }
    } finally {
      await client.close();
      await nobody.close();
    }
  });
});

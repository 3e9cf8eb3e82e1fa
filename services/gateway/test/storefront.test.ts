import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, createLogger, createMetrics, type TokenVerifier } from '@emporium/platform';
import { createGateway, type Gateway } from '../src/gateway';

// The storefront's routes need no token; any token sent would be refused here.
const verifier: TokenVerifier = { verify: () => Promise.reject(new AppError('AUTH.INVALID_TOKEN', 'no keys in this test', { status: 401 })) };

describe('gateway serving the storefront', () => {
  let root: string;
  let gateway: Gateway;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'storefront-'));
    mkdirSync(join(root, 'assets'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>Emporium</title><script type="module" src="/assets/index-abc.js"></script>');
    writeFileSync(join(root, 'assets', 'index-abc.js'), 'console.log(1)');
    writeFileSync(join(root, 'assets', 'index-abc.css'), 'body{}');
    writeFileSync(join(root, 'secret.txt'), 'not for the public');
    const nowhere = 'http://127.0.0.1:1';
    gateway = await createGateway({
      logger: createLogger('gateway', 'silent'),
      metrics: createMetrics('gateway', { defaultMetrics: false }),
      upstreams: { catalog: nowhere, cart: nowhere, inventory: nowhere, orders: nowhere, payments: nowhere, shipping: nowhere, identity: nowhere },
      verifier,
      storefrontDir: root,
    });
  });
  afterAll(async () => {
    await gateway.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('when / is asked for, then index.html comes back as HTML that is always revalidated', async () => {
    const res = await gateway.app.inject('/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.body).toContain('<title>Emporium</title>');
    // The page runs under the gateway's strict policy: its own scripts and styles only.
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['content-security-policy']).toContain("style-src 'self'");
  });

  it('when a hashed asset is asked for, then it has its content type and is cached for good', async () => {
    const js = await gateway.app.inject('/assets/index-abc.js');
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.body).toBe('console.log(1)');
    const css = await gateway.app.inject('/assets/index-abc.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('when an asset does not exist, then the answer is a 404 problem document', async () => {
    const res = await gateway.app.inject('/assets/nope.js');
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ status: 404, code: 'STOREFRONT.NOT_FOUND' });
  });

  it('when a path climbs out of assets/, then nothing outside is served', async () => {
    for (const url of ['/assets/../secret.txt', '/assets/%2e%2e/secret.txt', '/assets/..%2fsecret.txt', '/assets/%2e%2e%2f%2e%2e%2fpackage.json', '/assets/', '/assets/..%5csecret.txt']) {
      const res = await gateway.app.inject(url);
      expect(res.statusCode, url).toBeGreaterThanOrEqual(400);
      expect(res.body, url).not.toContain('not for the public');
    }
  });

  it('when the storefront is not built, then / says so with a 503 problem', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'storefront-empty-'));
    const nowhere = 'http://127.0.0.1:1';
    const bare = await createGateway({
      logger: createLogger('gateway', 'silent'),
      metrics: createMetrics('gateway', { defaultMetrics: false }),
      upstreams: { catalog: nowhere, cart: nowhere, inventory: nowhere, orders: nowhere, payments: nowhere, shipping: nowhere, identity: nowhere },
      verifier,
      storefrontDir: empty,
    });
    const res = await bare.app.inject('/');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ code: 'STOREFRONT.NOT_BUILT' });
    await bare.close();
    rmSync(empty, { recursive: true, force: true });
  });
});

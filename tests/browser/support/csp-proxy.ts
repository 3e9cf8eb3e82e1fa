import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A pass-through proxy in front of the gateway, for when the browser tests stand in for the card
 * processor: the gateway's Content-Security-Policy allows only the processor it was configured
 * with, so the proxy adds the stand-in's origin to `connect-src` (and adds the whole policy if the
 * gateway sent none). (Rewriting the page through Playwright's request interception instead would
 * make Chromium treat it as a public-address page and refuse its calls to the processor on
 * 127.0.0.1 under Local Network Access.)
 */
export async function startCspProxy(target: string, options: { fallbackCsp: string; connectSources: readonly string[] }): Promise<{ url: string; close(): Promise<void> }> {
  const withSources = (policy: string) =>
    policy
      .split(';')
      .map((d) => d.trim())
      .map((d) => (d.startsWith('connect-src') ? [d, ...options.connectSources].join(' ') : d))
      .join('; ');
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (answer) => {
        const headers = { ...answer.headers };
        const sent = headers['content-security-policy'];
        headers['content-security-policy'] = withSources(typeof sent === 'string' ? sent : options.fallbackCsp);
        res.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(res);
      },
    );
    // A page that goes away (or a browser that closes) ends its upstream request too: an order's
    // event stream would otherwise stay open and hold the gateway's shutdown.
    res.on('close', () => forward.destroy());
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('proxy: gateway unreachable');
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

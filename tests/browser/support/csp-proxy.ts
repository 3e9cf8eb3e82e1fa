import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A pass-through proxy in front of the gateway that adds a Content-Security-Policy to the
 * storefront's page when the gateway does not send one yet, so the browser tests run under the
 * same strict policy the gateway is to send. (Answering the page from Playwright's request
 * interception instead would make Chromium treat it as a public-address page and refuse its
 * calls to the card processor on 127.0.0.1 under Local Network Access.)
 */
export async function startCspProxy(target: string, csp: string): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    const forward = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (answer) => {
        const headers = { ...answer.headers };
        const isPage = (req.url === '/' || req.url?.startsWith('/?')) && String(headers['content-type'] ?? '').startsWith('text/html');
        if (isPage && !headers['content-security-policy']) headers['content-security-policy'] = csp;
        res.writeHead(answer.statusCode ?? 502, headers);
        answer.pipe(res);
      },
    );
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

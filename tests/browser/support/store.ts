import type { BrowserContext } from 'playwright-core';
import { startEmbedded, type EmbeddedPlatform } from '../../../apps/launcher/src/embedded';
import { ensureStorefrontBuilt } from '../../../apps/launcher/src/storefront';
import { startStandInProcessor, type StandInProcessor } from './card-processor';
import { startCspProxy } from './csp-proxy';

export interface TestStore {
  /** Where the browser opens the store (the gateway, or the CSP-adding proxy in front of it). */
  url: string;
  platform: EmbeddedPlatform;
  /** Where the storefront tokenizes cards: the gateway's configured processor, or the stand-in. */
  processorUrl: string;
  usesStandInProcessor: boolean;
  /** The CSP the gateway sends, or the one the tests apply in its place until it does. */
  csp: string;
  /** Prepares a browser context for this store (see below). */
  prepare(context: BrowserContext): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The whole store in this process (in-memory, seeded demo catalog) on an ephemeral port, serving
 * a fresh build of the storefront.
 */
export async function startTestStore(): Promise<TestStore> {
  const storefrontDir = ensureStorefrontBuilt();
  const platform = await startEmbedded({ port: 0, logLevel: 'warn', seed: true, storefrontDir });
  let standIn: StandInProcessor | undefined;
  let proxy: { url: string; close(): Promise<void> } | undefined;
  try {
    const configRes = await fetch(`${platform.url}/storefront/config.json`);
    let processorUrl: string;
    let config: unknown;
    if (configRes.ok) {
      config = await configRes.json();
      processorUrl = (config as { paymentProcessor: { url: string } }).paymentProcessor.url;
    } else {
      // The gateway does not serve the processor's config yet: stand in for the sandbox.
      await configRes.body?.cancel();
      standIn = await startStandInProcessor();
      processorUrl = standIn.url;
      config = { paymentProcessor: { url: standIn.url, publishableKey: standIn.publishableKey } };
    }
    const home = await fetch(`${platform.url}/`);
    await home.body?.cancel();
    const sentCsp = home.headers.get('content-security-policy');
    const csp = sentCsp ?? `default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self' ${new URL(processorUrl).origin}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'`;
    proxy = sentCsp ? undefined : await startCspProxy(platform.url, csp);

    const url = proxy?.url ?? platform.url;
    return {
      url,
      platform,
      processorUrl,
      usesStandInProcessor: standIn !== undefined,
      csp,
      async prepare(context) {
        if (standIn) {
          await context.route(`${url}/storefront/config.json`, (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(config) }));
        }
      },
      async stop() {
        await proxy?.close();
        await platform.stop();
        await standIn?.close();
      },
    };
  } catch (error) {
    await proxy?.close();
    await platform.stop();
    await standIn?.close();
    throw error;
  }
}

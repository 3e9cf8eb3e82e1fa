import { startEmbedded, type EmbeddedPlatform } from '../../../apps/launcher/src/embedded';
import { ensureStorefrontBuilt } from '../../../apps/launcher/src/storefront';
import { TEST_ADMIN } from '../../support/auth';

export interface TestStore {
  url: string;
  platform: EmbeddedPlatform;
  /** Where the storefront tokenizes cards (the embedded sandbox card processor). */
  processorUrl: string;
  stop(): Promise<void>;
}

/**
 * The whole store in this process (in-memory, seeded demo catalog, the sandbox card processor) on
 * an ephemeral port, serving a fresh build of the storefront.
 */
export async function startTestStore(): Promise<TestStore> {
  const storefrontDir = ensureStorefrontBuilt();
  const platform = await startEmbedded({ port: 0, logLevel: process.env.TEST_LOG_LEVEL ?? 'warn', seed: true, admin: TEST_ADMIN, storefrontDir });
  try {
    const config = (await (await fetch(`${platform.url}/storefront/config.json`)).json()) as { paymentProcessor: { url: string } | null };
    if (!config.paymentProcessor) throw new Error('the gateway names no card processor in /storefront/config.json: the checkout journeys cannot pay');
    return { url: platform.url, platform, processorUrl: config.paymentProcessor.url, stop: () => platform.stop() };
  } catch (error) {
    await platform.stop();
    throw error;
  }
}

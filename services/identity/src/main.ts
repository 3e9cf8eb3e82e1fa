import { runStandalone } from '@emporium/platform';
import { loadIdentityConfig } from './config';
import { createIdentityService, SERVICE } from './service';

const config = loadIdentityConfig();
if (config.NODE_ENV === 'production' && !config.IDENTITY_KEY_ENCRYPTION_KEY) {
  process.stderr.write('identity: IDENTITY_KEY_ENCRYPTION_KEY is required in production (32 bytes, base64 or hex)\n');
  process.exit(1);
}

await runStandalone(SERVICE, createIdentityService);

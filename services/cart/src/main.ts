import { runStandalone } from '@emporium/platform';
import { createCartService, SERVICE } from './service';

await runStandalone(SERVICE, createCartService);

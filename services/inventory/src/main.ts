import { runStandalone } from '@emporium/platform';
import { createInventoryService, SERVICE } from './service';

await runStandalone(SERVICE, createInventoryService);

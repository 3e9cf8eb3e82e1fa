import { runStandalone } from '@emporium/platform';
import { createCatalogService, SERVICE } from './service';

await runStandalone(SERVICE, createCatalogService);

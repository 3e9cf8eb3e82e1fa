import { runStandalone } from '@emporium/platform';
import { createShippingService, SERVICE } from './service';

await runStandalone(SERVICE, (deps) => createShippingService(deps));

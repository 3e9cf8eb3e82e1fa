import { runStandalone } from '@emporium/platform';
import { createPaymentsService, SERVICE } from './service';

await runStandalone(SERVICE, createPaymentsService);

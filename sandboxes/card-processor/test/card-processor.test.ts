import { openPglite } from '@emporium/platform';
import { describeCardProcessor } from './protocol';

describeCardProcessor('PGlite (embedded mode)', async () => {
  const pglite = await openPglite();
  return { db: pglite.forSchema('card_processor'), close: () => pglite.close() };
});

import { createPostgresDb } from '@emporium/platform';
import { freshPostgresDatabase } from '@emporium/platform/testing';
import { describeCardProcessor } from './protocol';

describeCardProcessor('PostgreSQL (distributed mode, its own database)', async () => {
  const db = createPostgresDb({ connectionString: await freshPostgresDatabase('emporium_test_card_processor'), schema: 'card_processor', max: 5 });
  return { db, close: () => db.close() };
});

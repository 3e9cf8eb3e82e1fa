import pg from 'pg';
import { createPostgresDb, ensureDatabase } from '@emporium/platform';
import { describeCardProcessor } from './protocol';

const ADMIN_URL = process.env.POSTGRES_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DATABASE = 'emporium_test_card_processor';

describeCardProcessor('PostgreSQL (distributed mode, its own database)', async () => {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  await admin.end();
  await ensureDatabase(ADMIN_URL, DATABASE);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${DATABASE}`;
  const db = createPostgresDb({ connectionString: url.toString(), schema: 'card_processor', max: 5 });
  return { db, close: () => db.close() };
});

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './types';

const PLATFORM_MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));

interface Migration {
  name: string;
  sql: string;
}

async function readMigrations(dir: string, prefix: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  return Promise.all(files.map(async (f) => ({ name: `${prefix}${f}`, sql: await readFile(join(dir, f), 'utf8') })));
}

/**
 * Applies the platform's migrations (outbox, inbox, idempotency) and then the service's own
 * plain-SQL files, in name order, each once. An advisory lock lets several instances start
 * at the same time; each file runs in the same transaction as its bookkeeping row.
 */
export async function migrate(db: Db, serviceMigrationsDir?: string, options: { platform?: boolean } = {}): Promise<string[]> {
  const migrations = [
    ...(options.platform === false ? [] : await readMigrations(PLATFORM_MIGRATIONS, 'platform/')),
    ...(serviceMigrationsDir ? await readMigrations(serviceMigrationsDir, '') : []),
  ];
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`migrate:${db.schema}`]);
    await tx.query(`CREATE SCHEMA IF NOT EXISTS ${db.schema}`);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS ${db.schema}.schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (await tx.query<{ name: string }>(`SELECT name FROM ${db.schema}.schema_migrations`)).rows.map((r) => r.name),
    );
    const applied: string[] = [];
    for (const migration of migrations) {
      if (done.has(migration.name)) continue;
      await tx.query(`SET LOCAL search_path TO ${db.schema},public`);
      for (const statement of splitStatements(migration.sql)) await tx.query(statement);
      await tx.query(`INSERT INTO ${db.schema}.schema_migrations (name) VALUES ($1)`, [migration.name]);
      applied.push(migration.name);
    }
    return applied;
  });
}

/**
 * Splits a migration file into statements (extended-protocol queries take one at a time).
 * Handles `--` comments, quoted strings and `$$` bodies; keep migrations to those.
 */
export function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let current = '';
  let i = 0;
  let quote: string | null = null;
  while (i < sql.length) {
    const ch = sql[i]!;
    if (quote) {
      if (sql.startsWith(quote, i)) {
        current += quote;
        i += quote.length;
        quote = null;
      } else {
        current += ch;
        i++;
      }
      continue;
    }
    if (ch === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      current += ch;
      i++;
      continue;
    }
    if (ch === '$') {
      const tag = /^\$[a-zA-Z_]*\$/.exec(sql.slice(i))?.[0];
      if (tag) {
        quote = tag;
        current += tag;
        i += tag.length;
        continue;
      }
    }
    if (ch === ';') {
      if (current.trim()) statements.push(current.trim());
      current = '';
      i++;
      continue;
    }
    current += ch;
    i++;
  }
  if (current.trim()) statements.push(current.trim());
  return statements;
}

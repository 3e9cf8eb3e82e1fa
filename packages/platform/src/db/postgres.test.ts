import { describe, expect, it } from 'vitest';
import { databaseUrlOn } from './postgres';

describe("a service's database on a PostgreSQL server", () => {
  it('when the server is named by a URL, then the database URL keeps its user, host, port and options and names the database', () => {
    expect(databaseUrlOn('postgres://app:secret@db.internal:6543/postgres?sslmode=require', 'emporium_orders')).toBe(
      'postgres://app:secret@db.internal:6543/emporium_orders?sslmode=require',
    );
    expect(databaseUrlOn('postgres://postgres@127.0.0.1:5432/postgres', 'emporium_cart')).toBe('postgres://postgres@127.0.0.1:5432/emporium_cart');
  });

  it("when the server URL names the server's Unix socket, then the database URL goes through the same socket", () => {
    expect(databaseUrlOn('postgres://postgres@localhost/postgres?host=/var/run/postgresql', 'emporium_orders')).toBe(
      'postgres://postgres@localhost/emporium_orders?host=/var/run/postgresql',
    );
  });

  it('when the database name is not a plain identifier, then no URL is made', () => {
    expect(() => databaseUrlOn('postgres://postgres@127.0.0.1:5432/postgres', 'orders; DROP DATABASE x')).toThrow();
  });
});

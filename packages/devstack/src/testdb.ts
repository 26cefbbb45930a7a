/**
 * Fresh databases for integration tests, created on the server that `npm test` prepared
 * (DATABASE_URL), each with the committed migrations applied (or empty, when asked).
 */
import { randomBytes } from "node:crypto";
import { deployMigrations } from "@clawgate/db/migrations";
import pg from "pg";

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin(serverUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(
  opts: { migrate?: boolean; prefix?: string; serverUrl?: string } = {},
): Promise<TestDatabase> {
  const serverUrl = opts.serverUrl ?? process.env.DATABASE_URL;
  if (!serverUrl)
    throw new Error("DATABASE_URL is not set: run the tests with `npm test`, which prepares a database server");
  const name = `${opts.prefix ?? "clawgate_t"}_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  await admin(serverUrl, `CREATE DATABASE "${name}"`);
  const url = withDatabase(serverUrl, name);
  if (opts.migrate ?? true) await deployMigrations(url);
  return { name, url, drop: () => admin(serverUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}

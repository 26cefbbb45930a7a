/**
 * Driver adapter for Prisma's wasm schema engine (migrate deploy/dev/diff) with no Rust binary.
 *
 * Works around two bugs in @prisma/adapter-pg 6.19 without touching node_modules
 * (see shared/notes/machine-facts.md):
 *  1. The schema engine reads catalog columns of type `name` (OID 19) and `"char"` (OID 18),
 *     which adapter-pg cannot deserialize (prisma/orm#27403): we report them as `text` (25).
 *  2. `connectToShadowDb()` reuses the main database when given a connection string and drops
 *     the shadow before closing its pool: we create a uniquely named database, connect by URL,
 *     and on dispose close the pool first, then drop the database WITH (FORCE).
 *  3. `executeScript()` splits a migration on every `;`, which breaks dollar-quoted bodies
 *     (functions, triggers): we send the script as one simple-protocol query, which PostgreSQL
 *     runs as one implicit transaction, so a failed migration also leaves nothing half-applied.
 *     (Consequence: `CREATE INDEX CONCURRENTLY` must go in a migration of its own.)
 * Only migrations need this; the runtime client uses the plain adapter.
 */
import { randomUUID } from "node:crypto";
import { PrismaPg } from "@prisma/adapter-pg";
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import pg from "pg";

const TEXT_OID = 25;
const CATALOG_OIDS = new Set([18, 19]);

type QueryResultLike = { fields?: { dataTypeID: number }[] };

function rewriteCatalogTypes<T>(result: T): T {
  for (const r of Array.isArray(result) ? result : [result]) {
    for (const field of (r as QueryResultLike | undefined)?.fields ?? []) {
      if (CATALOG_OIDS.has(field.dataTypeID)) field.dataTypeID = TEXT_OID;
    }
  }
  return result;
}

/** A pg Client whose results never carry the `name` / `"char"` type ids. */
class CatalogTextClient extends pg.Client {
  // pg's overloads are not expressible in a subclass; we forward arguments untouched.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: any[]): any {
    const last = args.at(-1);
    if (typeof last === "function") {
      args[args.length - 1] = (err: Error | null, res: unknown) => last(err, err ? res : rewriteCatalogTypes(res));
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      return (super.query as any)(...args);
    }
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const ret = (super.query as any)(...args);
    return ret && typeof ret.then === "function" ? ret.then(rewriteCatalogTypes) : ret;
  }
}

function poolFor(url: string): pg.Pool {
  // allowExitOnIdle: the CLI does not always dispose the adapter; idle clients must not keep it alive.
  return new pg.Pool({ connectionString: url, Client: CatalogTextClient, max: 4, allowExitOnIdle: true });
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Bug 3: run the whole script at once instead of adapter-pg's split on ";". */
function withWholeScripts(adapter: SqlDriverAdapter): SqlDriverAdapter {
  // PrismaPgAdapter exposes its pool; the generic SqlDriverAdapter type does not declare it.
  const pool = (adapter as SqlDriverAdapter & { underlyingDriver(): pg.Pool }).underlyingDriver();
  const mapError = (adapter as unknown as { onError(e: unknown): never }).onError.bind(adapter);
  adapter.executeScript = async (script: string) => {
    try {
      await pool.query(script);
    } catch (error) {
      mapError(error);
    }
  };
  return adapter;
}

export function migrationAdapterFactory(url: string): SqlMigrationAwareDriverAdapterFactory {
  const main = new PrismaPg(poolFor(url), { disposeExternalPool: true });
  return {
    provider: main.provider,
    adapterName: main.adapterName,
    connect: async () => withWholeScripts(await main.connect()),
    async connectToShadowDb(): Promise<SqlDriverAdapter> {
      const name = `clawgate_shadow_${randomUUID().replaceAll("-", "")}`;
      await adminQuery(url, `CREATE DATABASE "${name}"`);
      const shadow = new PrismaPg(poolFor(withDatabase(url, name)), { disposeExternalPool: true });
      const adapter = withWholeScripts(await shadow.connect());
      const dispose = adapter.dispose.bind(adapter);
      adapter.dispose = async () => {
        await dispose(); // ends the shadow pool first
        await adminQuery(url, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      };
      return adapter;
    },
  };
}

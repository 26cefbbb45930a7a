/**
 * The one place that imports the generated Prisma client. Apps and packages import from
 * "@clawgate/db"; client components import enums from "@clawgate/db/enums".
 */
import { PrismaPg } from "@prisma/adapter-pg";
import { Prisma, PrismaClient } from "./generated/client.ts";
import { createStorablePool } from "./pg.ts";
import { maskWriteArgs } from "./personal-data.ts";
import { storable } from "./storable.ts";

export * from "./generated/client.ts";
export { classifyDbError, createStorablePool, sqlState, StorableClient, type DbErrorClass } from "./pg.ts";
export { countUnstorable, isUnstorable, storable, storableText, unstorableCount } from "./storable.ts";
export type * from "./generated/models.ts";

export type Db = PrismaClient;
/** The client handed to `$transaction(async (tx) => …)` callbacks. */
export type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];

export interface DbOptions {
  /** Pool size per process. */
  max?: number;
  /** Milliseconds to wait for a connection before failing (keeps readiness checks fast). */
  connectionTimeoutMillis?: number;
  applicationName?: string;
}

/**
 * Every statement goes through the storable pool (pg.ts), where its parameters are made storable;
 * Prisma's arguments are made storable before Prisma serialises them.
 */
export function createDb(url: string, options: DbOptions = {}): PrismaClient {
  const pool = createStorablePool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5_000,
    application_name: options.applicationName ?? "clawgate",
  });
  // A lost connection surfaces through the pending query; an idle client's error must not crash.
  pool.on("error", () => {});
  const adapter = new PrismaPg(pool, { disposeExternalPool: true });
  // Prisma serialises its arguments as JSON for its query compiler, which refuses a lone
  // surrogate before anything reaches the pool: arguments are made storable first (same rule).
  // The extension keeps every method of the client; only its static type is new, hence the cast.
  return new PrismaClient({ adapter }).$extends({
    // Personal data in free-text columns is masked on the way in (personal-data.ts).
    query: {
      $allOperations: ({ model, operation, args, query }) => query(storableArgs(maskWriteArgs(model, operation, args))),
    },
  }) as unknown as PrismaClient;
}

/** A model operation's arguments, a raw query's `Sql`, or an unsafe raw query's `[query, ...values]`. */
function storableArgs<T>(args: T): T {
  if (!(args instanceof Prisma.Sql)) return storable(args);
  const values = storable(args.values);
  return (values === args.values ? args : new Prisma.Sql(args.strings, values)) as T;
}

const globalForDb = globalThis as unknown as { clawgateDb?: PrismaClient };

/**
 * Process-wide client for `url` (the app's validated DATABASE_URL), created on first use and kept
 * across Next.js dev reloads.
 */
export function getDb(url: string): PrismaClient {
  globalForDb.clawgateDb ??= createDb(url);
  return globalForDb.clawgateDb;
}

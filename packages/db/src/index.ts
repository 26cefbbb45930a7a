/**
 * The one place that imports the generated Prisma client. Apps and packages import from
 * "@clawgate/db"; client components import enums from "@clawgate/db/enums".
 */
import { PrismaPg } from "@prisma/adapter-pg";
import { Prisma, PrismaClient } from "./generated/client.ts";
import { createStorablePool } from "./pg.ts";
import { maskWriteArgs } from "./personal-data.ts";
import { storable } from "./storable.ts";
import { mayHoldEncrypted, openResult, sealArgs } from "./encrypted-fields.ts";
import type { KeyRing } from "./field-crypto.ts";

export * from "./generated/client.ts";
export { classifyDbError, createStorablePool, sqlState, StorableClient, type DbErrorClass } from "./pg.ts";
export { countUnstorable, isUnstorable, storable, storableText, unstorableCount } from "./storable.ts";
export type * from "./generated/models.ts";
export {
  DataKeyError,
  isSealed,
  keyIdOf,
  newDataKey,
  openValue,
  parseKeyRing,
  resealValue,
  sealJson,
  sealText,
  type KeyRing,
} from "./field-crypto.ts";
export { ENCRYPTED_COLUMNS, type EncryptedColumn } from "./encrypted-fields.ts";

export type Db = PrismaClient;
/** The client handed to `$transaction(async (tx) => …)` callbacks. */
export type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];

export interface DbOptions {
  /** Pool size per process. */
  max?: number;
  /** Milliseconds to wait for a connection before failing (keeps readiness checks fast). */
  connectionTimeoutMillis?: number;
  applicationName?: string;
  /**
   * The data key ring (CLAWGATE_DATA_KEYS, parsed by the caller): the encrypted columns
   * (encrypted-fields.ts) are sealed on every write and opened on every read. null or absent:
   * written in clear; an encrypted value read fails with a DataKeyError naming its key id.
   */
  dataKeys?: KeyRing | null;
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
  // Personal data in free-text columns is masked on the way in (personal-data.ts). Chat content is sealed after it is made storable (what decrypts is what was stored) and
  // opened on the way back, so callers never see ciphertext (encrypted-fields.ts).
  const ring = options.dataKeys ?? null;
  const db = new PrismaClient({ adapter }).$extends({
    query: {
      $allOperations: async ({ model, operation, args, query }) => {
        const result = await query(
          sealArgs(ring, model, operation, storableArgs(maskWriteArgs(model, operation, args))),
        );
        return mayHoldEncrypted(model, operation, args) ? openResult(ring, result, model === undefined) : result;
      },
    },
  }) as unknown as PrismaClient;
  rings.set(db, ring);
  return db;
}

const rings = new WeakMap<object, KeyRing | null>();

/**
 * The ring a client was made with, for raw SQL that writes an encrypted column (it seals its
 * values itself). A transaction client (`tx`) has none of its own: pass the outer client.
 */
export function dataKeysOf(db: PrismaClient): KeyRing | null {
  return rings.get(db) ?? null;
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
export function getDb(url: string, options: Pick<DbOptions, "dataKeys"> = {}): PrismaClient {
  globalForDb.clawgateDb ??= createDb(url, options);
  return globalForDb.clawgateDb;
}

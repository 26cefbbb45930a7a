/**
 * The one place that imports the generated Prisma client. Apps and packages import from
 * "@clawgate/db"; client components import enums from "@clawgate/db/enums".
 */
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/client.ts";

export * from "./generated/client.ts";
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

export function createDb(url: string, options: DbOptions = {}): PrismaClient {
  const adapter = new PrismaPg({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5_000,
    application_name: options.applicationName ?? "clawgate",
  });
  return new PrismaClient({ adapter });
}

const globalForDb = globalThis as unknown as { clawgateDb?: PrismaClient };

/** Process-wide client for DATABASE_URL (survives Next.js dev reloads). */
export function getDb(): PrismaClient {
  if (!globalForDb.clawgateDb) {
    const url = process.env.DATABASE_URL;
    if (!url) throw new Error("DATABASE_URL is not set");
    globalForDb.clawgateDb = createDb(url);
  }
  return globalForDb.clawgateDb;
}

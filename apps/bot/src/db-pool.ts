/**
 * Plain `pg` pools for the hot paths Prisma is too heavy for: the ingress insert+enqueue and
 * graphile-worker. Short connect and statement deadlines, so a dead or stalled database turns
 * into a fast error (503 / "no-ack") instead of a hung request.
 */
import { createStorablePool } from "@clawgate/db";
import type pg from "pg";

export interface PgPoolOptions {
  max?: number;
  applicationName: string;
  connectionTimeoutMillis?: number;
  /** Server-side statement_timeout and, a little later, the client-side query deadline. */
  statementTimeoutMs?: number;
}

export function createPgPool(url: string, opts: PgPoolOptions): pg.Pool {
  const statementTimeoutMs = opts.statementTimeoutMs ?? 2_000;
  // Storable: every parameter is made storable on the way out (packages/db/src/pg.ts).
  const pool = createStorablePool({
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName,
    connectionTimeoutMillis: opts.connectionTimeoutMillis ?? 1_000,
    statement_timeout: statementTimeoutMs,
    // A stalled server never answers: the client gives up shortly after the server would have.
    query_timeout: statementTimeoutMs + 500,
    idleTimeoutMillis: 30_000,
    // Prisma's TIMESTAMP(3) columns hold UTC: their CURRENT_TIMESTAMP defaults must be UTC too.
    options: "-c TimeZone=UTC",
  });
  // A client losing its connection (database stopped or restarted) must not crash the process.
  // The pool only listens on idle clients; a checked-out one (held across a reply's send, or
  // by graphile-worker) emits "error" on itself, so every client gets a listener when created.
  // The failure still reaches whoever is using the client, through its pending query.
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  return pool;
}

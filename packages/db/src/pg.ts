/**
 * The storage boundary: every connection the project opens to write goes through
 * `StorableClient` (Prisma's pool, the runtime's ingest and worker pools, graphile-worker's),
 * which makes each statement's parameters storable (storable.ts) before they are sent. No call
 * site has to remember it; `storage-boundary.test.ts` fails if a pool or client is made
 * elsewhere.
 *
 * And what a database error means (`classifyDbError`): only a connection-class failure is
 * "unavailable" (answer 503 / no ACK, retry later); a data error is the message's fault.
 */
import pg from "pg";
import { storableParam } from "./storable.ts";

function storableValues(values: unknown): unknown {
  if (!Array.isArray(values)) return values;
  let out: unknown[] | undefined;
  for (let i = 0; i < values.length; i++) {
    const v: unknown = values[i];
    const s = storableParam(v);
    if (s !== v) (out ??= values.slice())[i] = s;
  }
  return out ?? values;
}

/** A pg Client whose statement parameters are always storable. */
export class StorableClient extends pg.Client {
  // pg's overloads are not expressible in a subclass; only the values are touched.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: any[]): any {
    const [config] = args;
    if (config && typeof config === "object" && typeof (config as { submit?: unknown }).submit !== "function") {
      const values = storableValues((config as { values?: unknown }).values);
      if (values !== (config as { values?: unknown }).values) args[0] = { ...config, values };
    }
    if (Array.isArray(args[1])) args[1] = storableValues(args[1]);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return (super.query as any)(...args);
  }
}

/** A pg pool of StorableClients: the only way the project makes a pool it writes through. */
export function createStorablePool(config: pg.PoolConfig): pg.Pool {
  return new pg.Pool({ ...config, Client: StorableClient });
}

export type DbErrorClass = "unavailable" | "data" | "other";

/** node-postgres / socket failures that carry no SQLSTATE. */
const CONNECTION_ERRNO = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);
/** Prisma driver adapter error kinds that mean the database is not there. */
const ADAPTER_UNAVAILABLE = new Set([
  "DatabaseNotReachable",
  "DatabaseDoesNotExist",
  "ConnectionClosed",
  "SocketTimeout",
  "TooManyConnections",
  "TransactionAlreadyClosed",
]);
const CONNECTION_MESSAGE =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Connection ended|ended unexpectedly|Cannot use a pool after calling end|Client was closed/i;

/** Prisma's own codes: cannot reach / timed out / closed; value too long, unique, foreign key, null. */
const PRISMA_UNAVAILABLE = new Set(["P1001", "P1002", "P1008", "P1017", "P2024"]);
const PRISMA_DATA = new Set(["P2000", "P2002", "P2003", "P2011"]);

/**
 * - `unavailable`: the database is not there (SQLSTATE 08xxx, 57P01-57P03, 53300, 57014 statement
 *   timeout, socket errors, pool and query timeouts): retry later, never blame the message.
 * - `data`: the message's fault (22xxx invalid text / value too long, 23xxx constraint, 54xxx
 *   program limit such as an oversized index row): retrying the same input fails the same way.
 * - `other`: anything else (a bug, a deadlock, a serialization failure).
 * Prisma's errors carry the SQLSTATE in `meta.code` or their driver adapter error's `cause`.
 */
export function classifyDbError(error: unknown): DbErrorClass {
  const prisma = (error as { code?: unknown } | null)?.code;
  if (typeof prisma === "string" && PRISMA_UNAVAILABLE.has(prisma)) return "unavailable";
  if (typeof prisma === "string" && PRISMA_DATA.has(prisma)) return "data";
  const code = sqlState(error);
  if (code !== undefined) {
    if (/^08/.test(code) || /^57P0[123]$/.test(code) || code === "53300" || code === "57014") return "unavailable";
    if (/^(22|23|54)/.test(code)) return "data";
    return "other";
  }
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const kind = (e as { meta?: { driverAdapterError?: { cause?: { kind?: unknown } } } }).meta?.driverAdapterError
      ?.cause?.kind;
    if (typeof kind === "string" && ADAPTER_UNAVAILABLE.has(kind)) return "unavailable";
    const errno = (e as { code?: unknown }).code;
    if (typeof errno === "string" && CONNECTION_ERRNO.has(errno)) return "unavailable";
    const message = (e as { message?: unknown }).message;
    if (typeof message === "string" && CONNECTION_MESSAGE.test(message)) return "unavailable";
    if (Array.isArray((e as { errors?: unknown }).errors)) {
      // AggregateError from a dual-stack connect: all attempts refused.
      const inner = (e as { errors: unknown[] }).errors;
      if (inner.length > 0 && inner.every((x) => classifyDbError(x) === "unavailable")) return "unavailable";
    }
  }
  return "other";
}

/** The five-character SQLSTATE of a pg error, or of the pg error a Prisma error wraps. */
export function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const candidates = [
      (e as { code?: unknown }).code,
      (e as { meta?: { code?: unknown } }).meta?.code,
      (e as { originalCode?: unknown }).originalCode,
      (e as { meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } }).meta?.driverAdapterError?.cause
        ?.originalCode,
    ];
    for (const c of candidates) if (typeof c === "string" && /^[0-9A-OQ-Z][0-9A-Z]{4}$/.test(c)) return c;
  }
  return undefined;
}

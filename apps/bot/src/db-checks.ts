/**
 * Database checks shared by `/ready` and `clawgate doctor`. Every check has a deadline: a
 * stalled or unreachable database makes it fail fast instead of hanging the caller.
 */
import type { Db } from "@clawgate/db";
import { migrationStatus, type MigrationStatus } from "@clawgate/db/migrations";

export interface CheckResult {
  ok: boolean;
  error?: string;
  /** The config revision a snapshot check reports. */
  revision?: number;
  pending?: string[];
  failed?: string[];
}

export class TimeoutError extends Error {}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface DriverCause {
  originalCode?: string;
  originalMessage?: string;
  kind?: string;
}

function driverCause(error: unknown): DriverCause | undefined {
  const meta = (error as { meta?: { driverAdapterError?: { cause?: DriverCause } } }).meta;
  return meta?.driverAdapterError?.cause;
}

/** One line about a database error (Prisma's messages span several lines of call-site noise). */
export function describeDbError(error: unknown): string {
  if (error instanceof TimeoutError) return error.message;
  const cause = driverCause(error);
  if (cause?.originalMessage) return cause.originalMessage;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /Message: `([^`]+)`/.exec(message);
  if (quoted?.[1]) return quoted[1];
  const lines = message.split("\n").filter((l) => l.trim() !== "");
  return lines.at(-1)?.trim() ?? cause?.kind ?? "unknown database error";
}

/** `migrationStatus` wants pg-style errors (`.code`); Prisma wraps them. */
function rawQuery(db: Db) {
  return async (sql: string) => {
    try {
      return { rows: await db.$queryRawUnsafe<unknown[]>(sql) };
    } catch (error) {
      const code = driverCause(error)?.originalCode;
      if (code) Object.assign(error as object, { code });
      throw error;
    }
  };
}

export async function checkDatabase(db: Db, timeoutMs = 1_000): Promise<CheckResult> {
  try {
    await withTimeout(db.$queryRawUnsafe("SELECT 1"), timeoutMs, "SELECT 1");
    return { ok: true };
  } catch (error) {
    return { ok: false, error: describeDbError(error) };
  }
}

export async function readMigrationStatus(db: Db, timeoutMs = 1_000): Promise<MigrationStatus> {
  return withTimeout(migrationStatus(rawQuery(db)), timeoutMs, "migration status");
}

export function migrationCheck(status: MigrationStatus): CheckResult {
  if (status.pending.length === 0 && status.failed.length === 0) return { ok: true };
  const parts = [];
  if (status.failed.length) parts.push(`failed: ${status.failed.join(", ")}`);
  if (status.pending.length) parts.push(`pending: ${status.pending.join(", ")}`);
  return { ok: false, error: parts.join("; "), pending: status.pending, failed: status.failed };
}

export async function checkMigrations(db: Db, timeoutMs = 1_000): Promise<CheckResult> {
  try {
    return migrationCheck(await readMigrationStatus(db, timeoutMs));
  } catch (error) {
    return { ok: false, error: describeDbError(error) };
  }
}

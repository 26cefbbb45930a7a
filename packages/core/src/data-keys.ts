/**
 * Data keys at rest: which key each stored value is encrypted under (`dataKeyStatus`), whether the
 * ring can read all of them (`missingDataKeys`, for doctor), and re-encryption of every value not
 * under the ring's newest key (`rotateDataKeys`).
 *
 * These read the stored ciphertext, so they run on a plain `pg` pool, not the Prisma client
 * (which would decrypt). Rotation is online and resumable: each batch is one UPDATE of at most
 * `batch` rows, applied only where the value is still the one read (a row the runtime rewrote
 * meanwhile is left alone: it is under the newest key already, or the next run takes it); a
 * killed run loses nothing, and running it again continues with what is left.
 */
import { ENCRYPTED_COLUMNS, resealValue, type Db, type EncryptedColumn, type KeyRing } from "@clawgate/db";
import type pg from "pg";
import type { Actor } from "./actor.ts";
import { appendAudit } from "./audit.ts";
import { DomainError } from "./errors.ts";

export interface DataKeyCount {
  /** "Table.column". */
  column: string;
  /** The key id, or null for values stored in clear (before encryption was on). */
  keyId: string | null;
  rows: number;
}

const q = (name: string) => `"${name}"`;
const label = (c: EncryptedColumn) => `${c.model}.${c.field}`;
/** The stored value as text: a Json column's envelope is a JSON string (#>> '{}' unquotes it). */
const asText = (c: EncryptedColumn) => (c.kind === "json" ? `${q(c.field)} #>> '{}'` : q(c.field));
const present = (c: EncryptedColumn) =>
  c.kind === "json" ? `${q(c.field)} IS NOT NULL AND ${q(c.field)} <> 'null'::jsonb` : `${q(c.field)} IS NOT NULL`;
const SEALED = `'^enc:(v1|j1):[A-Za-z0-9_-]{1,32}:'`;
/** Key columns that are not text. */
const KEY_TYPES: Record<string, string> = { seq: "int" };

/** How many stored values each key id holds, per encrypted column (full scans: an operator's query). */
export async function dataKeyStatus(pool: pg.Pool): Promise<DataKeyCount[]> {
  const counts: DataKeyCount[] = [];
  for (const c of ENCRYPTED_COLUMNS) {
    const { rows } = await pool.query<{ keyId: string | null; rows: number }>(
      `SELECT CASE WHEN v ~ ${SEALED} THEN split_part(v, ':', 3) END AS "keyId", count(*)::int AS rows
         FROM (SELECT ${asText(c)} AS v FROM ${q(c.model)} WHERE ${present(c)}) s
        GROUP BY 1 ORDER BY 1 NULLS FIRST`,
    );
    for (const r of rows) counts.push({ column: label(c), keyId: r.keyId, rows: r.rows });
  }
  return counts;
}

/** Key ids that stored values are encrypted under and the ring does not hold (empty: all readable). */
export function missingDataKeys(ring: KeyRing | null, counts: readonly DataKeyCount[]): string[] {
  const ids = new Set(counts.flatMap((c) => (c.keyId !== null && !ring?.has(c.keyId) ? [c.keyId] : [])));
  return [...ids].sort();
}

export interface RotateOptions {
  /** Rows per UPDATE (default 500). */
  batch?: number;
  /** A pause between batches, to leave the database to the runtime (default 0). */
  pauseMs?: number;
  onBatch?: (progress: { column: string; rotated: number; skipped: number }) => void;
  signal?: AbortSignal;
}

export interface RotateResult {
  keyId: string;
  /** Values re-encrypted (or encrypted for the first time) per column. */
  rotated: Record<string, number>;
  /** Values changed by someone else between read and write (left for the next run). */
  skipped: number;
  /** false: stopped by the signal before the end (run again to continue). */
  complete: boolean;
}

/**
 * Re-encrypts every stored value of the encrypted columns that is not under `ring.current`
 * (values in clear are encrypted too). Audited at the start and at the end.
 */
export async function rotateDataKeys(
  db: Db,
  pool: pg.Pool,
  ring: KeyRing,
  actor: Actor,
  opts: RotateOptions = {},
): Promise<RotateResult> {
  const batch = opts.batch ?? 500;
  if (!Number.isInteger(batch) || batch < 1 || batch > 10_000)
    throw new DomainError("BAD_REQUEST", `--batch must be an integer from 1 to 10000, got ${String(opts.batch)}`);
  const missing = missingDataKeys(ring, await dataKeyStatus(pool));
  if (missing.length > 0)
    throw new DomainError(
      "PRECONDITION_FAILED",
      `Stored values are encrypted under data key(s) ${missing.join(", ")}, which CLAWGATE_DATA_KEYS does not hold: add them to the ring (before the newest) and run again.`,
    );
  await db.$transaction((tx) =>
    appendAudit(tx, {
      actor,
      action: "data_keys.rotate_start",
      targetType: "data_keys",
      targetId: ring.current,
      diff: { keyId: ring.current, ring: [...ring.ids], batch },
    }),
  );
  const result: RotateResult = { keyId: ring.current, rotated: {}, skipped: 0, complete: true };
  outer: for (const c of ENCRYPTED_COLUMNS) {
    result.rotated[label(c)] = 0;
    let after: unknown[] | null = null;
    for (;;) {
      if (opts.signal?.aborted) {
        result.complete = false;
        break outer;
      }
      const { rows, last } = await readBatch(pool, c, ring.current, after, batch);
      if (rows.length === 0) break;
      after = last;
      const { rotated, skipped } = await writeBatch(pool, c, ring, rows);
      result.rotated[label(c)]! += rotated;
      result.skipped += skipped;
      opts.onBatch?.({ column: label(c), rotated, skipped });
      if (rows.length < batch) break;
      if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
    }
  }
  await db.$transaction((tx) =>
    appendAudit(tx, {
      actor,
      action: "data_keys.rotate",
      targetType: "data_keys",
      targetId: ring.current,
      diff: { keyId: ring.current, rotated: result.rotated, skipped: result.skipped, complete: result.complete },
    }),
  );
  return result;
}

interface StoredRow {
  key: unknown[];
  /** The stored value as PostgreSQL returns it (text; a Json column's as its JSON text). */
  text: string;
}

async function readBatch(
  pool: pg.Pool,
  c: EncryptedColumn,
  current: string,
  after: unknown[] | null,
  limit: number,
): Promise<{ rows: StoredRow[]; last: unknown[] | null }> {
  const keys = c.key.map(q).join(", ");
  const values: unknown[] = [`^enc:(v1|j1):${current}:`, limit];
  let cursor = "";
  if (after) {
    const params = after.map((v, i) => {
      values.push(v);
      return `$${i + 3}::${KEY_TYPES[c.key[i]!] ?? "text"}`;
    });
    cursor = `AND (${keys}) > (${params.join(", ")})`;
  }
  const { rows } = await pool.query<Record<string, unknown>>(
    `SELECT ${keys}, ${q(c.field)}::text AS "__value" FROM ${q(c.model)}
      WHERE ${present(c)} AND (${asText(c)}) !~ $1 ${cursor}
      ORDER BY ${keys} LIMIT $2`,
    values,
  );
  const stored = rows.map((r) => ({ key: c.key.map((k) => r[k]), text: r.__value as string }));
  return { rows: stored, last: stored.at(-1)?.key ?? null };
}

async function writeBatch(
  pool: pg.Pool,
  c: EncryptedColumn,
  ring: KeyRing,
  rows: StoredRow[],
): Promise<{ rotated: number; skipped: number }> {
  const items = rows.map((r) => {
    const stored = c.kind === "json" ? (JSON.parse(r.text) as unknown) : r.text;
    const next = resealValue(ring, stored, c.kind);
    return {
      ...Object.fromEntries(c.key.map((k, i) => [k, r.key[i]])),
      old: r.text,
      new: c.kind === "json" ? JSON.stringify(next) : (next as string),
    };
  });
  const columns = [...c.key.map((k) => `${q(k)} ${KEY_TYPES[k] ?? "text"}`), `"old" text`, `"new" text`].join(", ");
  const cast = c.kind === "json" ? "::jsonb" : "";
  const { rowCount } = await pool.query(
    `UPDATE ${q(c.model)} t SET ${q(c.field)} = x."new"${cast}
       FROM json_to_recordset($1::json) AS x(${columns})
      WHERE ${c.key.map((k) => `t.${q(k)} = x.${q(k)}`).join(" AND ")} AND t.${q(c.field)} = x."old"${cast}`,
    [JSON.stringify(items)],
  );
  const rotated = rowCount ?? 0;
  return { rotated, skipped: rows.length - rotated };
}

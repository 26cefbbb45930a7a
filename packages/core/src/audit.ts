/**
 * The append-only audit log. Each row carries the hash of the previous row, so a removed or
 * edited row breaks the chain (the database also refuses UPDATE/DELETE with a trigger).
 * Writers serialise on a transaction-scoped advisory lock so the chain never forks.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { Prisma, storable, type Db, type Tx } from "@clawgate/db";
import type { Actor } from "./actor.ts";
import { maskDeep } from "./redact.ts";
import { checkAuditEntry, type AuditAction } from "./audit-actions.ts";

export const AUDIT_CHAIN_LOCK = 0x6175_6469; // "audi"

export interface AuditEntry {
  actor: Actor;
  /** One of core's audit actions (audit-actions.ts); its diff is checked against the action's schema. */
  action: AuditAction;
  targetType: string;
  targetId?: string | null;
  diff?: Record<string, unknown> | null;
  traceId?: string | null;
  configRevision?: number | null;
}

interface HashedFields {
  at: Date;
  actorType: Actor["type"];
  actorId: string | null;
  actorName: string;
  action: string;
  targetType: string;
  targetId: string | null;
  diff: unknown;
  traceId: string | null;
  configRevision: number | null;
  prevHash: string | null;
}

/** Stable JSON: object keys sorted at every depth, so the hash does not depend on key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return v;
  });
}

export function auditHash(fields: HashedFields): string {
  return createHash("sha256")
    .update(canonicalJson({ ...fields, at: fields.at.toISOString() }))
    .digest("hex");
}

export async function appendAudit(tx: Tx, entry: AuditEntry): Promise<{ id: bigint; hash: string }> {
  checkAuditEntry(entry.action, entry.diff);
  await tx.$queryRaw`SELECT 1 FROM pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK})`;
  const last = await tx.auditLog.findFirst({ orderBy: { id: "desc" }, select: { hash: true } });
  // Hashed as stored: the storage boundary would make the text storable after the hash otherwise.
  const fields: HashedFields = storable({
    // A JS Date has millisecond precision, as does the timestamp(3) column: the hash recomputes.
    at: new Date(),
    actorType: entry.actor.type,
    actorId: entry.actor.id ?? null,
    actorName: entry.actor.name,
    action: entry.action,
    targetType: entry.targetType,
    targetId: entry.targetId ?? null,
    // Personal data in a diff (a reason, a note) is masked before it is hashed and stored.
    diff: maskDeep(entry.diff ?? null),
    traceId: entry.traceId ?? null,
    configRevision: entry.configRevision ?? null,
    prevHash: last?.hash ?? null,
  });
  const hash = auditHash(fields);
  const row = await tx.auditLog.create({
    data: {
      ...fields,
      diff: fields.diff === null ? Prisma.DbNull : (fields.diff as Prisma.InputJsonValue),
      actorIp: entry.actor.ip ?? null,
      actorUserAgent: entry.actor.userAgent ?? null,
      hash,
    },
    select: { id: true },
  });
  return { id: row.id, hash };
}

/** The minimum length of CLAWGATE_AUDIT_SIGNING_KEY. */
export const AUDIT_SIGNING_KEY_MIN = 32;

/** HMAC-SHA256 (hex) of a checkpoint: the last purged row's id, hash and time. */
export function signCheckpoint(key: string, c: { lastId: bigint; lastHash: string; lastAt: Date }): string {
  return createHmac("sha256", key).update(`${c.lastId}:${c.lastHash}:${c.lastAt.toISOString()}`).digest("hex");
}

function signatureValid(key: string, c: { lastId: bigint; lastHash: string; lastAt: Date; signature: string }) {
  const expected = Buffer.from(signCheckpoint(key, c), "hex");
  const given = Buffer.from(c.signature, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export type AuditVerification =
  | { ok: true; rows: number; checkpoint: { id: bigint; lastId: bigint; at: Date } | null }
  | {
      ok: false;
      /** What is broken: a row (its id, time and action) or a checkpoint. */
      broken:
        | { kind: "row"; id: bigint; at: Date; action: string; why: "hash" | "link" }
        | { kind: "checkpoint"; id: bigint; lastId: bigint; why: "signature" | "no_key" | "covers_rows" };
      rows: number;
    };

/**
 * Verifies the audit log: every checkpoint's signature (a checkpoint needs the signing key), then
 * the chain from the newest checkpoint (the first row after it must link to its hash) or from the
 * first row. Names the first broken link.
 */
export async function verifyAudit(
  db: Db,
  { signingKey }: { signingKey?: string | undefined } = {},
): Promise<AuditVerification> {
  const checkpoints = await db.auditCheckpoint.findMany({ orderBy: { id: "asc" } });
  for (const c of checkpoints) {
    if (!signingKey)
      return { ok: false, broken: { kind: "checkpoint", id: c.id, lastId: c.lastId, why: "no_key" }, rows: 0 };
    if (!signatureValid(signingKey, c))
      return { ok: false, broken: { kind: "checkpoint", id: c.id, lastId: c.lastId, why: "signature" }, rows: 0 };
  }
  const newest = checkpoints.reduce<(typeof checkpoints)[number] | null>(
    (a, c) => (!a || c.lastId > a.lastId ? c : a),
    null,
  );
  if (newest) {
    // The purge deletes every row up to the checkpoint: one left there was put back.
    const stale = await db.auditLog.findFirst({ where: { id: { lte: newest.lastId } }, select: { id: true } });
    if (stale)
      return {
        ok: false,
        broken: { kind: "checkpoint", id: newest.id, lastId: newest.lastId, why: "covers_rows" },
        rows: 0,
      };
  }
  const walked = await walkChain(db, newest);
  if (walked.broken) return { ok: false, broken: { kind: "row", ...walked.broken }, rows: walked.rows };
  return {
    ok: true,
    rows: walked.rows,
    checkpoint: newest && { id: newest.id, lastId: newest.lastId, at: newest.at },
  };
}

/**
 * Recomputes the chain after `from` (a checkpoint: the first row after it must link to its hash)
 * or from the first row. Returns how many rows matched and the first that does not, or null.
 */
async function walkChain(
  db: Db,
  from: { lastId: bigint; lastHash: string } | null,
): Promise<{ rows: number; broken: { id: bigint; at: Date; action: string; why: "hash" | "link" } | null }> {
  let prevHash: string | null = from?.lastHash ?? null;
  let cursor: bigint | undefined;
  let rows = 0;
  for (;;) {
    const page = await db.auditLog.findMany({
      where: from ? { id: { gt: from.lastId } } : {},
      orderBy: { id: "asc" },
      take: 500,
      ...(cursor === undefined ? {} : { cursor: { id: cursor }, skip: 1 }),
    });
    if (page.length === 0) return { rows, broken: null };
    for (const r of page) {
      const expected = auditHash({
        at: r.at,
        actorType: r.actorType,
        actorId: r.actorId,
        actorName: r.actorName,
        action: r.action,
        targetType: r.targetType,
        targetId: r.targetId,
        diff: r.diff,
        traceId: r.traceId,
        configRevision: r.configRevision,
        prevHash,
      });
      if (r.prevHash !== prevHash || r.hash !== expected)
        return {
          rows,
          broken: { id: r.id, at: r.at, action: r.action, why: r.prevHash !== prevHash ? "link" : "hash" },
        };
      prevHash = r.hash;
      rows++;
    }
    cursor = page.at(-1)!.id;
  }
}

/**
 * Recomputes the chain (from the newest checkpoint, whose signature this does not check: see
 * `verifyAudit`); returns the id of the first row that does not match, or null.
 */
export async function verifyAuditChain(db: Db): Promise<bigint | null> {
  const newest = await db.auditCheckpoint.findFirst({ orderBy: { lastId: "desc" } });
  return (await walkChain(db, newest)).broken?.id ?? null;
}

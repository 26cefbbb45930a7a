/**
 * The append-only audit log. Each row carries the hash of the previous row, so a removed or
 * edited row breaks the chain (the database also refuses UPDATE/DELETE with a trigger).
 * Writers serialise on a transaction-scoped advisory lock so the chain never forks.
 */
import { createHash } from "node:crypto";
import { Prisma, storable, type Db, type Tx } from "@clawgate/db";
import type { Actor } from "./actor.ts";
import { checkAuditEntry, type AuditAction } from "./audit-actions.ts";

const AUDIT_CHAIN_LOCK = 0x6175_6469; // "audi"

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
    diff: entry.diff ?? null,
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

/** Recomputes the chain; returns the id of the first row that does not match, or null. */
export async function verifyAuditChain(db: Db): Promise<bigint | null> {
  let prevHash: string | null = null;
  let cursor: bigint | undefined;
  for (;;) {
    const rows = await db.auditLog.findMany({
      orderBy: { id: "asc" },
      take: 500,
      ...(cursor === undefined ? {} : { cursor: { id: cursor }, skip: 1 }),
    });
    if (rows.length === 0) return null;
    for (const r of rows) {
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
      if (r.prevHash !== prevHash || r.hash !== expected) return r.id;
      prevHash = r.hash;
    }
    cursor = rows.at(-1)!.id;
  }
}

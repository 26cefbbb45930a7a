/**
 * Reading the audit log (Audit log page): newest first, filtered, with a keyset cursor on the id
 * (the log is append-only and ids only grow, so a page never shifts under the reader). The chain
 * check is core's `verifyAuditChain` (read-only).
 */
import type { Db, Prisma, Tx } from "@clawgate/db";
import { z } from "zod";
import { verifyAuditChain } from "../audit.ts";

const isoDate = z.coerce.date({ error: "must be a date" });

export const auditListSchema = z
  .strictObject({
    /** e.g. "skill." or "safe_mode" (prefix of the dotted action). */
    actionPrefix: z.string().trim().max(100, { error: "at most 100 characters" }).optional(),
    /** Matches the actor's name (contains, any case) or their id (exact). */
    actor: z.string().trim().max(200, { error: "at most 200 characters" }).optional(),
    targetType: z.string().trim().max(100, { error: "at most 100 characters" }).optional(),
    from: isoDate.optional(),
    to: isoDate.optional(),
    /** The id of the last row of the previous page (as a string: ids are bigints). */
    cursor: z
      .string()
      .regex(/^\d{1,19}$/, { error: "cursor must be a row id" })
      .optional(),
    limit: z.number().int().min(1).max(100).default(25),
  })
  .refine((v) => !v.from || !v.to || v.from <= v.to, {
    error: "the start date must be before the end date",
    path: ["to"],
  });
export type AuditListInput = z.input<typeof auditListSchema>;

export interface AuditListItem {
  id: string;
  at: Date;
  actorType: string;
  actorId: string | null;
  actorName: string;
  action: string;
  targetType: string;
  targetId: string | null;
  diff: unknown;
  traceId: string | null;
  configRevision: number | null;
  hash: string;
}

export async function listAuditLog(db: Db | Tx, input: AuditListInput = {}) {
  const q = auditListSchema.parse(input);
  const where: Prisma.AuditLogWhereInput = {
    ...(q.actionPrefix ? { action: { startsWith: q.actionPrefix } } : {}),
    ...(q.actor ? { OR: [{ actorName: { contains: q.actor, mode: "insensitive" } }, { actorId: q.actor }] } : {}),
    ...(q.targetType ? { targetType: q.targetType } : {}),
    ...(q.from || q.to ? { at: { ...(q.from ? { gte: q.from } : {}), ...(q.to ? { lte: q.to } : {}) } } : {}),
    ...(q.cursor ? { id: { lt: BigInt(q.cursor) } } : {}),
  };
  const rows = await db.auditLog.findMany({
    where,
    orderBy: { id: "desc" },
    take: q.limit + 1, // one more tells whether there is a next page
    omit: { actorIp: true, actorUserAgent: true, prevHash: true },
  });
  const page = rows.slice(0, q.limit);
  const items: AuditListItem[] = page.map((r) => ({ ...r, id: r.id.toString() }));
  return { items, nextCursor: rows.length > q.limit ? page.at(-1)!.id.toString() : null };
}

/**
 * The target types present (for the filter's options). One index probe per distinct type on
 * ("targetType", "targetId") (a loose index scan): Prisma's `distinct` read every row and
 * deduplicated them in the client, 7-10 s at 1M rows (bench/scale).
 */
export async function auditTargetTypes(db: Db | Tx): Promise<string[]> {
  const rows = await db.$queryRaw<{ targetType: string }[]>`
    WITH RECURSIVE t AS (
      (SELECT "targetType" FROM "AuditLog" ORDER BY "targetType" LIMIT 1)
      UNION ALL
      SELECT (SELECT a."targetType" FROM "AuditLog" a WHERE a."targetType" > t."targetType" ORDER BY a."targetType" LIMIT 1)
      FROM t WHERE t."targetType" IS NOT NULL
    )
    SELECT "targetType" FROM t WHERE "targetType" IS NOT NULL ORDER BY "targetType"`;
  return rows.map((r) => r.targetType);
}

/** Recomputes the hash chain. `ok: false` names the first row that does not match. */
export async function verifyAuditLog(
  db: Db,
): Promise<{ ok: boolean; firstBadId: string | null; rows: number; checkedAt: Date }> {
  const [bad, rows] = await Promise.all([verifyAuditChain(db), db.auditLog.count()]);
  return { ok: bad === null, firstBadId: bad === null ? null : bad.toString(), rows, checkedAt: new Date() };
}

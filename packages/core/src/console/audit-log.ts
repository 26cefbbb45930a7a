/**
 * Reading the audit log (Audit log page): newest first, filtered, with a keyset cursor on the id
 * (the log is append-only and ids only grow, so a page never shifts under the reader). The chain
 * check is core's `verifyAuditChain` (read-only).
 */
import type { Db, Prisma, Tx } from "@clawgate/db";
import { z } from "zod";
import { verifyAuditChain } from "../audit.ts";

const isoDate = z.coerce.date({ error: "must be a date" });

/** The filters of a view (the page and the export). */
export const auditFilterFields = {
  /** e.g. "skill." or "safe_mode" (prefix of the dotted action). */
  actionPrefix: z.string().trim().max(100, { error: "at most 100 characters" }).optional(),
  /** Matches the actor's name (contains, any case) or their id (exact). */
  actor: z.string().trim().max(200, { error: "at most 200 characters" }).optional(),
  targetType: z.string().trim().max(100, { error: "at most 100 characters" }).optional(),
  /** The trace id of the request or message (exact). */
  traceId: z.string().trim().max(128, { error: "at most 128 characters" }).optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
};

export const datesInOrder = (v: { from?: Date | undefined; to?: Date | undefined }) =>
  !v.from || !v.to || v.from <= v.to;
export const DATES_ERROR = { error: "the start date must be before the end date", path: ["to"] };

export const auditListSchema = z
  .strictObject({
    ...auditFilterFields,
    /** The id of the last row of the previous page (as a string: ids are bigints). */
    cursor: z
      .string()
      .regex(/^\d{1,19}$/, { error: "cursor must be a row id" })
      .optional(),
    limit: z.number().int().min(1).max(100).default(25),
  })
  .refine(datesInOrder, DATES_ERROR);
export type AuditListInput = z.input<typeof auditListSchema>;
/** The filters alone (an export takes the same filters as the page, without paging). */
export type AuditFilters = Omit<z.output<typeof auditListSchema>, "cursor" | "limit">;

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
  /** Names beside the ids: the actor's email (a console user), the target's title or name. */
  actorEmail: string | null;
  targetName: string | null;
}

/** The WHERE of a filtered view (the page and the export share it). */
export function auditWhere(q: AuditFilters): Prisma.AuditLogWhereInput {
  return {
    ...(q.actionPrefix ? { action: { startsWith: q.actionPrefix } } : {}),
    ...(q.actor ? { OR: [{ actorName: { contains: q.actor, mode: "insensitive" } }, { actorId: q.actor }] } : {}),
    ...(q.targetType ? { targetType: q.targetType } : {}),
    ...(q.traceId ? { traceId: q.traceId } : {}),
    ...(q.from || q.to ? { at: { ...(q.from ? { gte: q.from } : {}), ...(q.to ? { lte: q.to } : {}) } } : {}),
  };
}

type NamedRow = { actorType: string; actorId: string | null; targetType: string; targetId: string | null };

/**
 * Names for a page of rows, in one query per kind: user emails (actors and user targets),
 * conversation titles (by DingTalk conversationId or console id), skill descriptions, and an
 * approval's skill and conversation.
 */
export async function auditNames(db: Db | Tx, rows: readonly NamedRow[]) {
  const ids = (pred: (r: NamedRow) => boolean, pick: (r: NamedRow) => string | null) => [
    ...new Set(rows.filter(pred).flatMap((r) => (pick(r) ? [pick(r)!] : []))),
  ];
  const userIds = [
    ...new Set([
      ...ids(
        (r) => r.actorType === "USER",
        (r) => r.actorId,
      ),
      ...ids(
        (r) => r.targetType === "user",
        (r) => r.targetId,
      ),
    ]),
  ];
  const convIds = ids(
    (r) => r.targetType === "conversation",
    (r) => r.targetId,
  );
  const skillKeys = ids(
    (r) => r.targetType === "skill",
    (r) => r.targetId,
  );
  const approvalIds = ids(
    (r) => r.targetType === "approval",
    (r) => r.targetId,
  );
  const [users, convs, skills, approvals] = await Promise.all([
    userIds.length ? db.user.findMany({ where: { id: { in: userIds } }, select: { id: true, email: true } }) : [],
    convIds.length
      ? db.conversation.findMany({
          where: { OR: [{ conversationId: { in: convIds } }, { id: { in: convIds } }] },
          select: { id: true, conversationId: true, title: true },
        })
      : [],
    skillKeys.length
      ? db.skill.findMany({ where: { key: { in: skillKeys } }, select: { key: true, description: true } })
      : [],
    approvalIds.length
      ? db.approvalRequest.findMany({
          where: { id: { in: approvalIds } },
          select: { id: true, skillKey: true, conversationTitle: true },
        })
      : [],
  ]);
  const email = new Map(users.flatMap((u) => (u.email ? [[u.id, u.email] as const] : [])));
  const target = new Map<string, string>();
  for (const c of convs) {
    const title = c.title ?? `untitled ${c.conversationId}`;
    target.set(`conversation:${c.conversationId}`, title);
    target.set(`conversation:${c.id}`, title);
  }
  for (const s of skills) target.set(`skill:${s.key}`, s.description.slice(0, 80));
  for (const a of approvals)
    target.set(`approval:${a.id}`, `${a.skillKey}${a.conversationTitle ? ` in ${a.conversationTitle}` : ""}`);
  for (const [id, e] of email) target.set(`user:${id}`, e);
  return (r: NamedRow) => ({
    actorEmail: r.actorType === "USER" && r.actorId ? (email.get(r.actorId) ?? null) : null,
    targetName: r.targetId ? (target.get(`${r.targetType}:${r.targetId}`) ?? null) : null,
  });
}

export async function listAuditLog(db: Db | Tx, input: AuditListInput = {}) {
  const q = auditListSchema.parse(input);
  const where: Prisma.AuditLogWhereInput = {
    ...auditWhere(q),
    ...(q.cursor ? { id: { lt: BigInt(q.cursor) } } : {}),
  };
  const rows = await db.auditLog.findMany({
    where,
    orderBy: { id: "desc" },
    take: q.limit + 1, // one more tells whether there is a next page
    omit: { actorIp: true, actorUserAgent: true, prevHash: true },
  });
  const page = rows.slice(0, q.limit);
  const names = await auditNames(db, page);
  const items: AuditListItem[] = page.map((r) => ({ ...r, id: r.id.toString(), ...names(r) }));
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

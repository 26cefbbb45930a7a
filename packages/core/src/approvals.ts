/**
 * Approval requests: an approver's decision, expiry, and the list the console shows.
 *
 * A decision commits in ONE transaction: the row is locked (two approvers clicking at once: the
 * second waits, then sees the first decision and is refused), the status and decider are set,
 * an audit entry is appended (metadata only: skill key and request id, never the input), and a
 * graphile-worker job `approval.execute` is enqueued, so the runtime wakes at commit. The
 * runtime also sweeps every minute (and at start) for decided requests it has not executed or
 * answered yet: a decision made while the queue schema did not exist, or a lost job, still runs.
 */
import type { ApprovalRequest, ApprovalStatus, Db, Prisma, Tx } from "@clawgate/db";
import { z } from "zod";
import type { Actor } from "./actor.ts";
import { appendAudit } from "./audit.ts";

/** The runtime's job that executes (or answers) a decided request; payload `{ approvalId }`. */
export const APPROVAL_EXECUTE_TASK = "approval.execute";
/** One job per request: a second enqueue of the same request replaces (or joins) the first. */
export const approvalJobKey = (approvalId: string) => `approval:${approvalId}`;

export type ApprovalErrorCode = "invalid_input" | "not_found" | "already_decided" | "expired" | "forbidden";

export class ApprovalError extends Error {
  override name = "ApprovalError";
  constructor(
    readonly code: ApprovalErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const decideApprovalInput = z.object({
  id: z.string().trim().min(1, "the request id is required").max(64),
  approve: z.boolean(),
  note: z.string().trim().max(1_000, "the note is longer than 1,000 characters").optional(),
  /** The caller's request id, kept on the audit entry. */
  traceId: z.string().max(128).optional(),
});
export type DecideApprovalInput = z.input<typeof decideApprovalInput>;

/** Roles that may decide (the console's approver procedure checks this too). */
const DECIDING_ROLES = new Set(["ADMIN", "APPROVER"]);

/** Enqueues `approval.execute` for the request inside `tx`, when the queue's schema exists. */
export async function enqueueApprovalJob(tx: Tx | Db, approvalId: string): Promise<boolean> {
  const [schema] = await tx.$queryRaw<
    { present: boolean }[]
  >`SELECT to_regnamespace('graphile_worker') IS NOT NULL AS present`;
  if (!schema?.present) return false; // the runtime's sweep picks the request up once it runs
  await tx.$queryRaw`SELECT 1 FROM graphile_worker.add_job(
    ${APPROVAL_EXECUTE_TASK}, json_build_object('approvalId', ${approvalId}::text),
    max_attempts := 10, job_key := ${approvalJobKey(approvalId)}, job_key_mode := 'preserve_run_at')`;
  return true;
}

/**
 * Approves or rejects a PENDING, unexpired request. Throws ApprovalError (and changes nothing)
 * otherwise. Returns the updated request.
 */
export async function decideApproval(
  db: Db,
  actor: Actor,
  input: DecideApprovalInput,
  now: Date = new Date(),
): Promise<ApprovalRequest> {
  const parsed = decideApprovalInput.safeParse(input);
  if (!parsed.success) {
    throw new ApprovalError(
      "invalid_input",
      `Invalid decision: ${parsed.error.issues.map((i) => `${i.path.join(".") || "input"}: ${i.message}`).join("; ")}`,
    );
  }
  const { id, approve, note, traceId } = parsed.data;

  return db.$transaction(async (tx) => {
    let decidedById: string | null = null;
    if (actor.type === "USER") {
      // Defence in depth behind the console's role check; also the decidedBy foreign key.
      const user = actor.id
        ? await tx.user.findUnique({ where: { id: actor.id }, select: { id: true, role: true, disabledAt: true } })
        : null;
      if (!user || user.disabledAt || !DECIDING_ROLES.has(user.role)) {
        throw new ApprovalError("forbidden", "Only an approver or an admin can decide approval requests.");
      }
      decidedById = user.id;
    }

    const locked = await tx.$queryRaw<
      { id: string }[]
    >`SELECT "id" FROM "ApprovalRequest" WHERE "id" = ${id} FOR UPDATE`;
    const request = locked.length > 0 ? await tx.approvalRequest.findUnique({ where: { id } }) : null;
    if (!request) throw new ApprovalError("not_found", `There is no approval request "${id}".`);
    if (request.status === "EXPIRED" || (request.status === "PENDING" && request.expiresAt <= now)) {
      throw new ApprovalError(
        "expired",
        `The request for ${request.skillKey} expired at ${request.expiresAt.toISOString()}; the user has to ask again.`,
      );
    }
    if (request.status !== "PENDING") {
      throw new ApprovalError(
        "already_decided",
        `The request for ${request.skillKey} was already decided (${request.status.toLowerCase()}).`,
      );
    }

    const status: ApprovalStatus = approve ? "APPROVED" : "REJECTED";
    const updated = await tx.approvalRequest.update({
      where: { id },
      data: { status, decidedById, decidedAt: now, decisionNote: note || null },
    });
    await appendAudit(tx, {
      actor,
      action: approve ? "approval.approve" : "approval.reject",
      targetType: "approval",
      targetId: id,
      diff: { skillKey: request.skillKey, status: { from: "PENDING", to: status }, note: note ? "set" : "none" },
      traceId: traceId ?? request.traceId,
    });
    await enqueueApprovalJob(tx, id);
    return updated;
  });
}

export const EXPIRY_ACTOR: Actor = { type: "SYSTEM", name: "approval expiry" };

/** PENDING requests past their expiry become EXPIRED (audited, at most `batch` per call). Returns their ids. */
export async function expireApprovals(db: Db, now: Date = new Date(), batch = 500): Promise<string[]> {
  return db.$transaction(async (tx) => {
    // SKIP LOCKED: a request being decided right now is left to that decision (which refuses it if late).
    const rows = await tx.$queryRaw<{ id: string; skillKey: string }[]>`
      UPDATE "ApprovalRequest" SET "status" = 'EXPIRED', "updatedAt" = ${now}
       WHERE "id" IN (SELECT "id" FROM "ApprovalRequest" WHERE "status" = 'PENDING' AND "expiresAt" <= ${now}
                       ORDER BY "expiresAt" LIMIT ${batch} FOR UPDATE SKIP LOCKED)
      RETURNING "id", "skillKey"`;
    for (const row of rows) {
      await appendAudit(tx, {
        actor: EXPIRY_ACTOR,
        action: "approval.expire",
        targetType: "approval",
        targetId: row.id,
        diff: { skillKey: row.skillKey, status: { from: "PENDING", to: "EXPIRED" } },
      });
      // The runtime tells the requester (best effort: the sweep catches up otherwise).
      await enqueueApprovalJob(tx, row.id);
    }
    return rows.map((r) => r.id);
  });
}

/**
 * The columns of a request that every approval list shows (here and the console's page, which
 * adds the skill and pages pending-first). The input is raw: a caller that shows it redacts it.
 */
export const approvalListColumns = {
  id: true,
  skillKey: true,
  conversationId: true,
  requesterId: true,
  input: true,
  status: true,
  decidedAt: true,
  decisionNote: true,
  expiresAt: true,
  executedAt: true,
  createdAt: true,
} as const satisfies Prisma.ApprovalRequestSelect;

export const listApprovalsInput = z.object({
  status: z.enum(["PENDING", "APPROVED", "REJECTED", "EXPIRED", "EXECUTED", "FAILED"]).optional(),
  cursor: z.string().min(1).max(64).optional(),
  take: z.number().int().min(1).max(100).default(25),
});

export type ApprovalListItem = Pick<
  ApprovalRequest,
  | "id"
  | "skillKey"
  | "conversationId"
  | "requesterId"
  | "input"
  | "status"
  | "decidedAt"
  | "decisionNote"
  | "expiresAt"
  | "executedAt"
  | "result"
  | "traceId"
  | "createdAt"
> & { decidedBy: { id: string; name: string | null; email: string | null } | null };

/** Newest first; `nextCursor` is the id to pass as `cursor` for the next page. */
export async function listApprovals(
  db: Db | Tx,
  input: z.input<typeof listApprovalsInput>,
): Promise<{ items: ApprovalListItem[]; nextCursor: string | null }> {
  const { status, cursor, take } = listApprovalsInput.parse(input);
  const rows = await db.approvalRequest.findMany({
    where: status ? { status } : {},
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: take + 1,
    ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
    select: {
      ...approvalListColumns,
      result: true,
      traceId: true,
      decidedBy: { select: { id: true, name: true, email: true } },
    },
  });
  const items = rows.slice(0, take);
  return { items, nextCursor: rows.length > take ? items.at(-1)!.id : null };
}

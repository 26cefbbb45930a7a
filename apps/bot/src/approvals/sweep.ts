/**
 * The `approval.sweep` job (cron every minute, and once when the queue starts): expires PENDING
 * requests past their expiry, re-announces those pending past `escalate_after_minutes` to the
 * escalation chat, and enqueues `approval.execute` again for every request that was
 * decided (or expired, or ran) but never answered: a decision committed while the queue schema
 * did not exist yet, a job that was lost or gave up. Answered means the OutboundMessage
 * `approval:<id>` is SENT or FAILED for good.
 */
import { enqueueApprovalJob, escalateApprovals, expireApprovals } from "@clawgate/core/approvals.ts";
import type { Db } from "@clawgate/db";

export const APPROVAL_SWEEP_TASK = "approval.sweep";

/** Requests decided longer ago than this are no longer chased (the user has long moved on). */
const SWEEP_WINDOW_MS = 3 * 24 * 3_600_000;

export interface SweepResult {
  expired: number;
  enqueued: number;
  /** Re-announced to the escalation chat (only counted when escalation is configured). */
  escalated?: number;
}

/**
 * `minAgeMs`: a request decided more recently than this is left to the job its decision
 * enqueued (the sweep would only start a duplicate that finds nothing to do).
 */
export async function sweepApprovals(
  db: Db,
  opts: { now?: Date; minAgeMs?: number; batch?: number } = {},
): Promise<SweepResult> {
  const now = opts.now ?? new Date();
  const expired = await expireApprovals(db, now);
  const escalated = await escalateApprovals(db, now);
  const newest = new Date(now.getTime() - (opts.minAgeMs ?? 30_000));
  const oldest = new Date(now.getTime() - SWEEP_WINDOW_MS);
  const rows = await db.$queryRaw<{ id: string }[]>`
    SELECT a."id" FROM "ApprovalRequest" a
     WHERE a."status" IN ('APPROVED', 'REJECTED', 'EXPIRED', 'EXECUTED', 'FAILED', 'INVALIDATED')
       AND a."updatedAt" <= ${newest} AND a."updatedAt" > ${oldest}
       AND NOT EXISTS (SELECT 1 FROM "OutboundMessage" o
                        WHERE o."idempotencyKey" = 'approval:' || a."id" AND o."status" IN ('SENT', 'FAILED', 'UNCONFIRMED'))
     ORDER BY a."updatedAt" LIMIT ${opts.batch ?? 200}`;
  let enqueued = 0;
  for (const { id } of rows) if (await enqueueApprovalJob(db, id)) enqueued += 1;
  return { expired: expired.length, enqueued, ...(escalated.length > 0 && { escalated: escalated.length }) };
}

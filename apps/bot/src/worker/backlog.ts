/**
 * The per-conversation backlog cap: a group that floods the robot (a script, a storm of retries)
 * gets model turns for the first `cap` messages waiting in line and, past that, one short notice
 * per burst instead of a turn each. Every message is still stored and acknowledged (never a
 * silent drop at ingress); the capped ones end DENIED with `backlog.capped` (the message that
 * crossed the cap carries the notice as its reply, the rest get none), counted under
 * `clawgate_limit_refusals_total{kind="backlog"}` and, once per burst, in the audit log.
 *
 * The backlog is measured as it was when the message arrived: the conversation's messages that
 * came before it and were not answered yet then (`processedAt` after its arrival, or still
 * open). A conversation's jobs run one at a time in arrival order, so at the time a message's
 * job runs, the ones before it are done and this count is fixed: a rerun of the job (a killed
 * replica) decides the same. Messages of one ingest batch share `receivedAt`; among them those
 * already processed are the ones before it (arrival order within a batch is the job order).
 * The count goes up by at most one per arriving message, so exactly one message per burst has
 * `cap` messages ahead of it: that one sends the notice. Bounded: only the last hour is looked
 * at, and counting stops past the cap. `processedAt` is the replica's clock and `receivedAt` the
 * database's: a skew between them shifts the count by the messages answered within the skew.
 */
import type pg from "pg";

/** The reason capped messages are marked DENIED with. */
export const BACKLOG_REASON = "backlog.capped";

export const BACKLOG_NOTICE = "Too many messages at once: I'm answering the earlier ones first and skipping the rest.";

const AHEAD = `
WITH m AS (SELECT "conversationId", "receivedAt" FROM "InboundMessage" WHERE "id" = $1)
SELECT count(*)::int AS "ahead" FROM (
  SELECT 1 FROM "InboundMessage" i, m
   WHERE i."conversationId" = m."conversationId" AND i."id" <> $1
     AND i."receivedAt" <= m."receivedAt" AND i."receivedAt" > m."receivedAt" - interval '1 hour'
     AND ((i."receivedAt" < m."receivedAt" AND (i."processedAt" IS NULL OR i."processedAt" > m."receivedAt"))
       OR (i."receivedAt" = m."receivedAt" AND i."processedAt" IS NOT NULL))
   LIMIT $2::int + 1) x`;

/**
 * What the cap says about a message: `turn` (within the cap, or the cap is off), `notice` (the
 * first over the cap in this burst: answer with BACKLOG_NOTICE), `silent` (later in the burst).
 */
export async function backlogVerdict(
  pool: pg.Pool,
  inboundId: string,
  cap: number,
): Promise<{ verdict: "turn" | "notice" | "silent"; ahead: number }> {
  if (cap <= 0) return { verdict: "turn", ahead: 0 };
  const ahead =
    (await pool.query<{ ahead: number }>({ name: "clawgate_backlog_ahead", text: AHEAD, values: [inboundId, cap] }))
      .rows[0]?.ahead ?? 0;
  return { verdict: ahead < cap ? "turn" : ahead === cap ? "notice" : "silent", ahead };
}

/**
 * The `inbound.handle` job: one stored inbound message -> its conversation row -> the policy
 * decision (in memory) -> a reply. An allowed message gets the agent's answer (a model that is
 * down gets the fallback text: the row still ends REPLIED); a refused one gets the reason and is
 * marked DENIED. Logs carry the trace id from ingress and metadata only.
 *
 * A job that runs again after its reply was stored (throttled, send failed, worker died) sends
 * the stored reply instead of running the turn again, so tools and approval requests are not
 * repeated. Only a crash between the turn and that insert repeats the turn.
 *
 * Between the gate and the turn: the shared limits (src/limits/admit.ts): requests per minute,
 * then the token budget reservation, settled after the turn with the tokens the model reported.
 * A refused message is answered and marked DENIED with its reason; past the one "too fast" reply
 * of a window, messages are only marked DENIED (abuse throttling: no reply).
 *
 * The conversation's memory comes back with its upsert and an answered turn's memory save runs
 * beside the reply's send, so neither round trip is on the way to the answer (bench/agent).
 */
import { createHash } from "node:crypto";
import { recordDeadLetter } from "@clawgate/core/dead-letters.ts";
import { classifyDbError, sqlState, storableText, type Db } from "@clawgate/db";
import {
  isKnownMessage,
  messageText,
  robotMessageSchema,
  textReply,
  type OutboundMessage,
  type RobotMessage,
} from "@clawgate/dingtalk";
import type { JobHelpers, Task } from "graphile-worker";
import type pg from "pg";
import { z } from "zod";
import { conversationQueue, INBOUND_TASK } from "../ingress/ingest.ts";
import { ASYNC_COMMIT } from "../agent/sql.ts";
import { MEMORY_COLUMNS, storedMemory, type Agent, type MemoryRow, type StoredMemory } from "../agent/index.ts";
import { SKILLS } from "../agent/tools.ts";
import { createLimits, type Limits } from "../limits/admit.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import type { PolicyView } from "../policy/runtime.ts";
import { appendAudit } from "@clawgate/core";
import { RUNTIME_ACTOR } from "../runtime-actor.ts";
import { BACKLOG_NOTICE, BACKLOG_REASON, backlogVerdict } from "./backlog.ts";
import { gateMessage } from "./policy-gate.ts";
import { replyTargets, sendReply, SendFailedError, ThrottledError, type Senders } from "./reply.ts";
import type { Throttle } from "./throttle.ts";

export interface InboundHandlerDeps {
  db: Db;
  pool: pg.Pool;
  throttle: Throttle;
  senders: Senders;
  webhookHosts: readonly string[];
  logger: Logger;
  metrics: Metrics;
  policy: PolicyView;
  agent: Agent;
  /** Rate limits and token budgets; by default shared through the database (db, pool). */
  limits?: Limits;
  /** Per-conversation backlog cap (worker/backlog.ts; env BACKLOG_CAP_PER_CONVERSATION); 0 or unset: off. */
  backlogCap?: number;
  now?: () => number;
}

/** How long a job waits for the first policy snapshot before it looks again. */
export const SNAPSHOT_WAIT_MS = 1_000;

const payloadSchema = z.object({
  inboundId: z.string().min(1),
  traceId: z.string().min(1),
  deferrals: z.number().int().min(0).optional(),
});

/** Conversation ids are not secret, but keep logs joinable without carrying them in clear. */
export const hashId = (value: string) => createHash("sha256").update(value).digest("hex").slice(0, 12);

/**
 * Why retrying the job cannot help, or undefined (retry): a data error (the message's), the same
 * error as the attempt before, a third failure that is not an outage, or the last attempt. An
 * unavailable database is retried up to the job's max attempts.
 */
export function giveUp(error: unknown, job: Pick<JobHelpers["job"], "attempts" | "max_attempts" | "last_error">) {
  if (job.attempts >= job.max_attempts) return "last attempt";
  const dbClass = classifyDbError(error);
  if (dbClass === "unavailable") return undefined;
  if (dbClass === "data") return "data error";
  const message = storableText(error instanceof Error ? error.message : String(error));
  if (job.last_error !== null && job.last_error === message) return "the same error twice";
  if (job.attempts >= MAX_FAILURES) return `${MAX_FAILURES} failures`;
  return undefined;
}

/** Failures (other than an unavailable database) after which a job is given up. */
export const MAX_FAILURES = 3;

/** One dead letter per message while it is OPEN: a job that gives up twice reuses it. */
async function deadLetterJob(
  db: Db,
  a: { inboundId: string; traceId: string; why: string; error: unknown; attempts: number },
): Promise<string> {
  const open = await db.deadLetter.findFirst({
    where: { inboundMessageId: a.inboundId, status: "OPEN" },
    select: { id: true },
  });
  if (open) return open.id;
  const inbound = await db.inboundMessage.findUnique({
    where: { id: a.inboundId },
    select: { robotCode: true, msgId: true, conversationId: true, channel: true },
  });
  return recordDeadLetter(db, {
    source: "INBOUND_JOB",
    reason: `${a.why}: ${a.error instanceof Error ? a.error.message : String(a.error)}`,
    errorCode: sqlState(a.error) ?? null,
    traceId: a.traceId,
    inboundMessageId: a.inboundId,
    attempts: a.attempts,
    ...(inbound ?? {}),
  });
}

export const TURN_FAILED_REPLY = "Something went wrong while answering; please try again in a few minutes.";
/** Sent once when a turn runs long (the agent decides when), before the answer. */
export const WORKING_REPLY = "Working on it…";

/** Reasons recorded by the limits (InboundMessage.error): a rerun resending their reply is DENIED too. */
const LIMIT_REASON = /^(rate_limited|budget\.exhausted|backlog)\./;

/**
 * What the model reads for a message: what the user wrote (a rich text's text, a voice
 * message's transcript, marked as such), with a note for what the robot cannot see (pictures,
 * files, videos, types it does not know).
 */
export function turnText(msg: RobotMessage): string {
  const text = messageText(msg);
  if (msg.msgtype === "audio" && text) return `[A voice message; DingTalk's transcript follows.]\n${text}`;
  if (isKnownMessage(msg) && msg.msgtype === "richText") {
    const pictures = (msg.content.richText ?? []).filter(
      (s) => !s.text?.trim() && (s.type === "picture" || s.downloadCode),
    ).length;
    const note =
      pictures > 0
        ? `[The message ${text ? "also " : ""}has ${pictures === 1 ? "a picture" : `${pictures} pictures`}, which the robot cannot see yet.]`
        : "";
    const parts = [text, note].filter(Boolean);
    if (parts.length > 0) return parts.join("\n");
  }
  if (text) return text;
  if (msg.msgtype === "text") return "[The user mentioned the robot without writing anything.]";
  return `[The user sent ${/^[aeiou]/i.test(msg.msgtype) ? "an" : "a"} ${msg.msgtype} message, which the robot cannot read yet.]`;
}

/**
 * The job's inbound row, marked PROCESSING if it was RECEIVED, in one statement (the row as it
 * was before: the status tells a first run from a rerun). The mark commits without waiting for
 * the WAL flush: lost in a crash, the row is RECEIVED again and the job runs again anyway.
 */
const CLAIM_INBOUND = `
WITH claimed AS (
  UPDATE "InboundMessage" SET "status" = 'PROCESSING' WHERE "id" = $1 AND "status" = 'RECEIVED'
  RETURNING "id", ${ASYNC_COMMIT}
)
SELECT "robotCode", "status"::text AS "status", "payload", "error", "modelCalls" FROM "InboundMessage" WHERE "id" = $1`;

interface InboundRow {
  robotCode: string;
  status: string;
  payload: unknown;
  error: string | null;
  /** Model calls an earlier run of the job made: its turn's steps are stored and replayed. */
  modelCalls: number;
}

async function claimInbound(pool: pg.Pool, inboundId: string): Promise<InboundRow | undefined> {
  return (await pool.query<InboundRow>({ name: "clawgate_claim_inbound", text: CLAIM_INBOUND, values: [inboundId] }))
    .rows[0];
}

/**
 * The conversation's row (created on first sight, PENDING until an admin enables it; title and
 * last seen kept current) and, in the same round trip, its memory for the agent's turn and the
 * reply an earlier run of the job stored ($6: its idempotency key), if any.
 */
const UPSERT_CONVERSATION = `
WITH c AS (
  INSERT INTO "Conversation" ("id", "conversationId", "robotCode", "title", "type", "updatedAt")
  VALUES ($1, $2, $3, $4, $5::"ConversationType", now())
  ON CONFLICT ("conversationId") DO UPDATE SET
    "lastSeenAt" = now(),
    "updatedAt" = now(),
    "title" = COALESCE(EXCLUDED."title", "Conversation"."title"),
    "robotCode" = COALESCE("Conversation"."robotCode", EXCLUDED."robotCode")
  RETURNING "id"
)
SELECT ${MEMORY_COLUMNS}, (SELECT o."payload" FROM "OutboundMessage" o WHERE o."idempotencyKey" = $6) AS "storedReply"
  FROM c LEFT JOIN "ConversationMemory" m ON m."conversationId" = c."id"`;

export interface SeenConversation {
  /** Conversation.id for a conversation seen for the first time. */
  newId: string;
  conversationId: string;
  robotCode: string | null;
  title: string | null;
  type: "GROUP" | "SINGLE";
}

/**
 * Records that the robot saw the conversation; returns its memory (empty when it has none) and
 * the reply already stored under `replyKey` (a rerun of the job sends that instead of a new turn).
 */
export async function upsertConversation(
  pool: pg.Pool,
  c: SeenConversation,
  replyKey: string,
): Promise<{ memory: StoredMemory; storedReply: OutboundMessage | undefined }> {
  const { rows } = await pool.query<MemoryRow & { storedReply: OutboundMessage | null }>({
    name: "clawgate_upsert_conversation",
    text: UPSERT_CONVERSATION,
    values: [c.newId, c.conversationId, c.robotCode, c.title, c.type, replyKey],
  });
  return { memory: storedMemory(rows[0]), storedReply: rows[0]?.storedReply ?? undefined };
}

/** The job's named queue, to put a rescheduled job back in. */
async function queueOf(helpers: JobHelpers): Promise<{ queueName?: string }> {
  if (helpers.job.job_queue_id === null) return {};
  const { rows } = await helpers.query<{ queue_name: string }>(
    "SELECT queue_name FROM graphile_worker._private_job_queues WHERE id = $1",
    [helpers.job.job_queue_id],
  );
  return rows[0] ? { queueName: rows[0].queue_name } : {};
}

export function createInboundHandler(deps: InboundHandlerDeps): Task {
  const { db, pool, logger, metrics, now = Date.now } = deps;
  const limits = deps.limits ?? createLimits({ db, pool, now });

  /** Gives the message up (a dead letter, the row FAILED) when retrying cannot help; else rethrows. */
  const orDeadLetter =
    (task: Task): Task =>
    async (rawPayload, helpers) => {
      try {
        await task(rawPayload, helpers);
      } catch (error) {
        const why = giveUp(error, helpers.job);
        const payload = payloadSchema.safeParse(rawPayload);
        if (!why || !payload.success) throw error;
        const { inboundId, traceId } = payload.data;
        const id = await deadLetterJob(db, { inboundId, traceId, why, error, attempts: helpers.job.attempts });
        metrics.deadLetters.inc({ source: "INBOUND_JOB" });
        await db.inboundMessage.updateMany({
          where: { id: inboundId, status: { in: ["RECEIVED", "PROCESSING"] } },
          data: { status: "FAILED", processedAt: new Date(), error: `dead_letter:${id}` },
        });
        logger
          .child({ traceId, inboundId, jobId: helpers.job.id })
          .error({ deadLetterId: id, why, attempt: helpers.job.attempts }, "inbound job given up: dead-lettered");
      }
    };

  return orDeadLetter(async (rawPayload: unknown, helpers: JobHelpers) => {
    const { inboundId, traceId, deferrals = 0 } = payloadSchema.parse(rawPayload);
    const log = logger.child({ traceId, inboundId, jobId: helpers.job.id });
    const snapshot = deps.policy.snapshot();
    if (!snapshot) {
      // No policy, no answer (fail closed), but no failure either: look again shortly (in the
      // same conversation queue, found by the job's queue id: the row is not read yet).
      await helpers.addJob(
        INBOUND_TASK,
        { inboundId, traceId, deferrals },
        { runAt: new Date(Date.now() + SNAPSHOT_WAIT_MS), ...(await queueOf(helpers)) },
      );
      log.info("policy snapshot not loaded yet; rescheduled");
      return;
    }
    const row = await claimInbound(pool, inboundId);
    if (!row) {
      log.warn("inbound message not found (deleted by retention?); nothing to do");
      return;
    }
    if (row.status !== "RECEIVED" && row.status !== "PROCESSING") {
      log.info({ status: row.status }, "inbound message already handled");
      return;
    }
    const msg = robotMessageSchema.parse(row.payload);
    const conversation = hashId(msg.conversationId);
    const idempotencyKey = `reply:${inboundId}`;
    const seen = await upsertConversation(
      pool,
      {
        newId: `conv_${inboundId}`,
        conversationId: msg.conversationId,
        robotCode: row.robotCode,
        title: msg.conversationTitle || null,
        type: msg.conversationType === "2" ? "GROUP" : "SINGLE",
      },
      idempotencyKey,
    );

    const gate = gateMessage(snapshot, msg, now());
    const reasons = gate.decision.reasons.map((r) => r.code);
    // A rescheduled or retried job decides again: count and log only its first run.
    if (deferrals === 0 && helpers.job.attempts <= 1) {
      metrics.policyDecisions.inc({ outcome: gate.decision.outcome, reason: gate.primary });
      log.info(
        { outcome: gate.decision.outcome, reasons, revision: snapshot.revision, conversation },
        "policy decision",
      );
    }

    const finish = (status: "REPLIED" | "DENIED" | "FAILED", error?: string) =>
      db.inboundMessage.update({
        where: { id: inboundId },
        data: { status, processedAt: new Date(), error: error ?? null },
      });

    const targets = replyTargets(msg, {
      allowedHosts: deps.webhookHosts,
      openApi: deps.senders.openApi !== undefined,
      now: now(),
    });
    const send = (key: string, message: OutboundMessage) =>
      sendReply({
        pool,
        throttle: deps.throttle,
        senders: deps.senders,
        idempotencyKey: key,
        inboundId,
        robotCode: row.robotCode,
        conversationId: msg.conversationId,
        traceId,
        targets,
        message,
        deferrals,
      });
    // Why the message is DENIED (undefined: answered).
    let denied: string | undefined = gate.refusal === undefined ? undefined : gate.primary;
    let message = gate.refusal === undefined ? seen.storedReply : textReply(gate.refusal);
    // The answered turn's memory save and its token settlement, running while the reply goes out.
    let remembered: Promise<Error | undefined> | undefined;
    let settled: Promise<void> | undefined;
    // Set when the turn was given up (dead letter): the fallback goes out under its own key, so a
    // retry of the dead letter can still answer, and the row ends FAILED.
    let deadLettered: string | undefined;
    if (message && denied === undefined && row.error && LIMIT_REASON.test(row.error)) denied = row.error;
    // The conversation's backlog cap (worker/backlog.ts): past it, no turn.
    const backlog = message ? undefined : await backlogVerdict(pool, inboundId, deps.backlogCap ?? 0);
    if (backlog && backlog.verdict !== "turn") {
      metrics.limitRefusals.inc({ kind: "backlog" });
      if (backlog.verdict === "silent") {
        await finish("DENIED", BACKLOG_REASON);
        log.info({ reason: BACKLOG_REASON, conversation }, "over the conversation's backlog cap; no turn, no reply");
        return;
      }
      // Once per burst: recorded before the send, so a rerun resending the notice marks it DENIED too.
      await db.$transaction(async (tx) => {
        await tx.inboundMessage.update({ where: { id: inboundId }, data: { error: BACKLOG_REASON } });
        await appendAudit(tx, {
          actor: RUNTIME_ACTOR,
          action: "conversation.backlog_capped",
          targetType: "conversation",
          targetId: msg.conversationId,
          diff: { cap: deps.backlogCap ?? 0, ahead: backlog.ahead },
          traceId,
        });
      });
      log.warn({ reason: BACKLOG_REASON, ahead: backlog.ahead, conversation }, "conversation over its backlog cap");
      denied = BACKLOG_REASON;
      message = textReply(BACKLOG_NOTICE);
    }
    if (!message) {
      const userId = msg.senderStaffId || msg.senderId;
      const text = turnText(msg);
      const admission = await limits.admit({
        conversationId: msg.conversationId,
        userId,
        text,
        traceId,
        configRevision: snapshot.revision,
        // A retried job is the same message: it was counted on its first attempt.
        countRequest: helpers.job.attempts <= 1,
      });
      if (admission.kind === "dropped") {
        metrics.limitRefusals.inc({ kind: admission.metric });
        await finish("DENIED", admission.reason);
        log.info({ reason: admission.reason, conversation }, "refused by limits; dropped without a reply");
        return;
      }
      if (admission.kind === "refused") {
        metrics.limitRefusals.inc({ kind: admission.metric });
        // Recorded before the send: a rerun that resends this reply still marks the message DENIED.
        await db.inboundMessage.update({ where: { id: inboundId }, data: { error: admission.reason } });
        log.info({ reason: admission.reason, conversation }, "refused by limits");
        denied = admission.reason;
        message = textReply(admission.text);
      } else {
        const { reservation } = admission;
        const turn = await deps.agent
          .reply({
            text,
            conversationId: msg.conversationId,
            userId,
            traceId,
            inboundId,
            snapshot,
            latest: () => deps.policy.snapshot(),
            memory: seen.memory,
            resume: row.modelCalls > 0,
            onSlow: async () => {
              // Best effort: the answer follows anyway, so a failed interim send is only logged.
              try {
                const sent = await send(`interim:${inboundId}`, textReply(WORKING_REPLY));
                metrics.outbound.inc({ channel: sent.channel ?? "none", outcome: sent.outcome });
              } catch (error) {
                log.info(
                  { err: error instanceof Error ? error.message : String(error), conversation },
                  "interim message not sent",
                );
              }
            },
          })
          .catch(async (error: unknown) => {
            // A database outage: the job retries. A failure that retrying will not fix (or the
            // last attempt) is dead-lettered and the user still gets an answer.
            const why = giveUp(error, helpers.job);
            if (!why) throw error;
            const id = await deadLetterJob(db, { inboundId, traceId, why, error, attempts: helpers.job.attempts });
            metrics.deadLetters.inc({ source: "INBOUND_JOB" });
            deadLettered = `dead_letter:${id}`;
            log.error(
              { err: error, conversation, why, deadLetterId: id },
              "agent turn failed; dead-lettered, sending the fallback",
            );
            return {
              text: TURN_FAILED_REPLY,
              outcome: "failed",
              toolCalls: 0,
              approvals: [],
              calls: [],
              usage: { promptTokens: 0, completionTokens: 0 },
              remembered: undefined,
            };
          })
          .catch(async (error: unknown) => {
            // The job retries: give the reservation back first (nothing is charged).
            await limits
              .settle(reservation, undefined)
              .catch((e: unknown) => log.warn({ err: e, conversation }, "token reservation not released"));
            throw error;
          });
        // Charged what the model reported (a model that was down reported nothing: not charged),
        // while the reply goes out.
        settled = limits
          .settle(reservation, turn.usage)
          .catch((e: unknown) => log.warn({ err: e, conversation }, "token usage not settled"));
        metrics.agentTurns.inc({ outcome: turn.outcome });
        for (const c of turn.calls)
          metrics.toolCalls.inc({
            skill: SKILLS.has(c.skillKey) ? c.skillKey : "unknown",
            decision: c.decision,
            outcome: c.outcome,
          });
        const tokens = turn.usage.promptTokens + turn.usage.completionTokens;
        log.info(
          {
            turn: turn.outcome,
            toolCalls: turn.toolCalls,
            approvals: turn.approvals.length,
            tokens,
            conversation,
            ...("error" in turn ? { error: turn.error } : {}),
          },
          "agent turn",
        );
        message = textReply(turn.text);
        remembered = turn.remembered;
      }
    }

    // What ran beside the send, awaited once before the row is finished (REPLIED means settled
    // and remembered) or the job ends another way.
    let drained: Promise<void> | undefined;
    const drain = () =>
      (drained ??= (async () => {
        await settled;
        // Not the job's to retry: a rerun sends the stored reply and runs no turn to remember.
        const notSaved = await remembered;
        if (notSaved)
          log.warn(
            { err: notSaved.message, conversation },
            "conversation memory not saved; the next turn lacks this one",
          );
      })());
    try {
      const { outcome, channel } = await send(deadLettered ? `failed:${inboundId}` : idempotencyKey, message);
      metrics.outbound.inc({ channel: channel ?? "none", outcome });
      await drain();
      if (deadLettered) await finish("FAILED", deadLettered);
      else if (outcome === "already_failed") await finish("FAILED");
      else await finish(denied === undefined ? "REPLIED" : "DENIED", denied);
      if (outcome === "unconfirmed")
        log.warn(
          { conversation },
          "reply's outcome unknown (its sender vanished, or DingTalk did not answer); not resent (worker/reply.ts: UNCONFIRMED)",
        );
      log.info({ outcome, channel, conversation, msgType: msg.msgtype }, "reply handled");
    } catch (error) {
      if (error instanceof ThrottledError) {
        metrics.outbound.inc({ channel: targets[0]?.channel ?? "none", outcome: "throttled" });
        const runAt = new Date(Date.now() + error.retryInMs);
        const queue = helpers.job.job_queue_id === null ? {} : { queueName: conversationQueue(msg.conversationId) };
        await helpers.addJob(INBOUND_TASK, { inboundId, traceId, deferrals: deferrals + 1 }, { runAt, ...queue });
        log.info({ scope: error.scope, retryInMs: error.retryInMs, conversation }, "reply throttled; rescheduled");
        return;
      }
      metrics.outbound.inc({ channel: targets[0]?.channel ?? "none", outcome: "failed" });
      const reason = error instanceof Error ? error.message : String(error);
      if (error instanceof SendFailedError && error.permanent) {
        await finish("FAILED", reason);
        log.warn({ reason, conversation }, "reply failed permanently");
        return;
      }
      if (helpers.job.attempts >= helpers.job.max_attempts) await finish("FAILED", reason);
      log.warn({ reason, attempt: helpers.job.attempts, conversation }, "reply failed; the job will retry");
      throw error;
    } finally {
      await drain();
    }
  });
}

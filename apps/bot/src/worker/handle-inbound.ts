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
import type { PolicySnapshot } from "@clawgate/core";
import { recordDeadLetter } from "@clawgate/core/dead-letters.ts";
import { hashId } from "@clawgate/core/redact.ts";
import { classifyDbError, dataKeysOf, openValue, sqlState, storableText, type Db, type KeyRing } from "@clawgate/db";
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
import {
  MEMORY_COLUMNS,
  storedMemory,
  type Agent,
  type AgentReply,
  type MemoryRow,
  type StoredMemory,
} from "../agent/index.ts";
import { SKILLS } from "../agent/tools.ts";
import { skillLabel } from "../metrics.ts";
import type { Reservation } from "@clawgate/core/limits/budget.ts";
import { createLimits, type Limits } from "../limits/admit.ts";
import type { Logger } from "../logger.ts";
import type { WorkerDeps } from "./deps.ts";
import { appendAudit } from "@clawgate/core";
import { RUNTIME_ACTOR } from "../runtime-actor.ts";
import { BACKLOG_NOTICE, BACKLOG_REASON, backlogVerdict } from "./backlog.ts";
import { gateMessage } from "./policy-gate.ts";
import { replyTargets, sendReply, SendFailedError, ThrottledError, type ReplyTarget } from "./reply.ts";

export interface InboundHandlerDeps extends WorkerDeps {
  agent: Agent;
  /** Rate limits and token budgets; by default shared through the database (db, pool). */
  limits?: Limits;
  /** Per-conversation backlog cap (worker/backlog.ts; env BACKLOG_CAP_PER_CONVERSATION); 0 or unset: off. */
  backlogCap?: number;
}

/** How long a job waits for the first policy snapshot before it looks again. */
export const SNAPSHOT_WAIT_MS = 1_000;

const payloadSchema = z.object({
  inboundId: z.string().min(1),
  traceId: z.string().min(1),
  deferrals: z.number().int().min(0).optional(),
});

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

async function claimInbound(pool: pg.Pool, keys: KeyRing | null, inboundId: string): Promise<InboundRow | undefined> {
  const row = (
    await pool.query<InboundRow>({ name: "clawgate_claim_inbound", text: CLAIM_INBOUND, values: [inboundId] })
  ).rows[0];
  return row && { ...row, payload: openValue(keys, row.payload) };
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
  keys: KeyRing | null,
  c: SeenConversation,
  replyKey: string,
): Promise<{ memory: StoredMemory; storedReply: OutboundMessage | undefined }> {
  const { rows } = await pool.query<MemoryRow & { storedReply: OutboundMessage | null }>({
    name: "clawgate_upsert_conversation",
    text: UPSERT_CONVERSATION,
    values: [c.newId, c.conversationId, c.robotCode, c.title, c.type, replyKey],
  });
  const storedReply = openValue(keys, rows[0]?.storedReply ?? undefined) as OutboundMessage | undefined;
  return { memory: storedMemory(rows[0], keys), storedReply };
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

/** The deps with their defaults filled in (a clock, the shared limits). */
type InboundRuntime = InboundHandlerDeps & { limits: Limits; now: () => number };

/** One run of the job, once its row is claimed: the message, its conversation, how to reply. */
interface InboundRun {
  inboundId: string;
  traceId: string;
  deferrals: number;
  helpers: JobHelpers;
  log: Logger;
  snapshot: PolicySnapshot;
  row: InboundRow;
  msg: RobotMessage;
  /** The conversation id hashed, for logs. */
  conversation: string;
  /** The conversation's memory and the reply an earlier run stored. */
  seen: Awaited<ReturnType<typeof upsertConversation>>;
  targets: ReplyTarget[];
  /** Sends `message` under `key` (one OutboundMessage row per key: a rerun does not send twice). */
  send: (key: string, message: OutboundMessage) => ReturnType<typeof sendReply>;
  /** Marks the inbound row done. */
  finish: (status: "REPLIED" | "DENIED" | "FAILED", error?: string) => Promise<unknown>;
}

/** What a run answers: nothing (dropped by the limits), or a reply and what it means for the row. */
type Answer =
  | { kind: "dropped" }
  | {
      kind: "reply";
      message: OutboundMessage;
      /** Why the message is DENIED (undefined: answered). */
      denied?: string | undefined;
      /**
       * Set when the turn was given up (dead letter): the fallback goes out under its own key, so
       * a retry of the dead letter can still answer, and the row ends FAILED.
       */
      deadLettered?: string | undefined;
      /** The answered turn's token settlement and memory save, running while the reply goes out. */
      settled?: Promise<void> | undefined;
      remembered?: Promise<Error | undefined> | undefined;
    };
type Reply = Extract<Answer, { kind: "reply" }>;

export function createInboundHandler(deps: InboundHandlerDeps): Task {
  const now = deps.now ?? Date.now;
  const runtime: InboundRuntime = {
    ...deps,
    now,
    limits: deps.limits ?? createLimits({ db: deps.db, pool: deps.pool, now }),
  };
  return orDeadLetter(runtime, async (rawPayload: unknown, helpers: JobHelpers) => {
    const run = await openRun(runtime, rawPayload, helpers);
    if (!run) return;
    const answer = await admitAndAnswer(runtime, run);
    if (answer.kind === "reply") await deliver(runtime, run, answer);
  });
}

/** Gives the message up (a dead letter, the row FAILED) when retrying cannot help; else rethrows. */
function orDeadLetter(deps: InboundRuntime, task: Task): Task {
  const { db, logger, metrics } = deps;
  return async (rawPayload, helpers) => {
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
}

/**
 * Step 1: the run's message. Undefined when there is nothing to do now: no policy snapshot yet
 * (rescheduled), the row is gone or was already handled.
 */
async function openRun(
  deps: InboundRuntime,
  rawPayload: unknown,
  helpers: JobHelpers,
): Promise<InboundRun | undefined> {
  const { db, pool } = deps;
  const { inboundId, traceId, deferrals = 0 } = payloadSchema.parse(rawPayload);
  const log = deps.logger.child({ traceId, inboundId, jobId: helpers.job.id });
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
    return undefined;
  }
  const keys = dataKeysOf(db);
  const row = await claimInbound(pool, keys, inboundId);
  if (!row) {
    log.warn("inbound message not found (deleted by retention?); nothing to do");
    return undefined;
  }
  if (row.status !== "RECEIVED" && row.status !== "PROCESSING") {
    log.info({ status: row.status }, "inbound message already handled");
    return undefined;
  }
  const msg = robotMessageSchema.parse(row.payload);
  const seen = await upsertConversation(
    pool,
    keys,
    {
      newId: `conv_${inboundId}`,
      conversationId: msg.conversationId,
      robotCode: row.robotCode,
      title: msg.conversationTitle || null,
      type: msg.conversationType === "2" ? "GROUP" : "SINGLE",
    },
    replyKey(inboundId),
  );
  const targets = replyTargets(msg, {
    allowedHosts: deps.webhookHosts,
    openApi: deps.senders.openApi !== undefined,
    now: deps.now(),
  });
  return {
    inboundId,
    traceId,
    deferrals,
    helpers,
    log,
    snapshot,
    row,
    msg,
    conversation: hashId(msg.conversationId),
    seen,
    targets,
    send: (key, message) =>
      sendReply({
        pool,
        keys,
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
      }),
    finish: (status, error) =>
      db.inboundMessage.update({
        where: { id: inboundId },
        data: { status, processedAt: new Date(), error: error ?? null },
      }),
  };
}

/** The key of a message's reply (its OutboundMessage row). */
const replyKey = (inboundId: string) => `reply:${inboundId}`;

/**
 * Step 2: the policy decision, then (allowed, nothing stored yet) the limits and the agent's
 * turn. A refusal is the reply; a rerun resends the reply an earlier run stored.
 */
async function admitAndAnswer(deps: InboundRuntime, run: InboundRun): Promise<Answer> {
  const { metrics } = deps;
  const { snapshot, msg, log, helpers, row, conversation, inboundId } = run;
  const gate = gateMessage(snapshot, msg, deps.now());
  // A rescheduled or retried job decides again: count and log only its first run.
  if (run.deferrals === 0 && helpers.job.attempts <= 1) {
    metrics.policyDecisions.inc({ outcome: gate.decision.outcome, reason: gate.primary });
    log.info(
      {
        outcome: gate.decision.outcome,
        reasons: gate.decision.reasons.map((r) => r.code),
        revision: snapshot.revision,
        conversation,
      },
      "policy decision",
    );
  }
  if (gate.refusal !== undefined) return { kind: "reply", message: textReply(gate.refusal), denied: gate.primary };
  const stored = run.seen.storedReply;
  if (stored) {
    // A limit's refusal was recorded before its reply was sent: resent, the message is still DENIED.
    const denied = row.error && LIMIT_REASON.test(row.error) ? row.error : undefined;
    return { kind: "reply", message: stored, denied };
  }

  // The conversation's backlog cap (worker/backlog.ts): past it, no turn.
  const backlog = await backlogVerdict(deps.pool, inboundId, deps.backlogCap ?? 0);
  if (backlog.verdict !== "turn") {
    metrics.limitRefusals.inc({ kind: "backlog" });
    if (backlog.verdict === "silent") {
      await run.finish("DENIED", BACKLOG_REASON);
      log.info({ reason: BACKLOG_REASON, conversation }, "over the conversation's backlog cap; no turn, no reply");
      return { kind: "dropped" };
    }
    // Once per burst: recorded before the send, so a rerun resending the notice marks it DENIED too.
    await deps.db.$transaction(async (tx) => {
      await tx.inboundMessage.update({ where: { id: inboundId }, data: { error: BACKLOG_REASON } });
      await appendAudit(tx, {
        actor: RUNTIME_ACTOR,
        action: "conversation.backlog_capped",
        targetType: "conversation",
        targetId: msg.conversationId,
        diff: { cap: deps.backlogCap ?? 0, ahead: backlog.ahead },
        traceId: run.traceId,
      });
    });
    log.warn({ reason: BACKLOG_REASON, ahead: backlog.ahead, conversation }, "conversation over its backlog cap");
    return { kind: "reply", message: textReply(BACKLOG_NOTICE), denied: BACKLOG_REASON };
  }

  const userId = msg.senderStaffId || msg.senderId;
  const text = turnText(msg);
  const admission = await deps.limits.admit({
    conversationId: msg.conversationId,
    userId,
    text,
    traceId: run.traceId,
    configRevision: snapshot.revision,
    // A retried job is the same message: it was counted on its first attempt.
    countRequest: helpers.job.attempts <= 1,
  });
  if (admission.kind === "dropped") {
    metrics.limitRefusals.inc({ kind: admission.metric });
    await run.finish("DENIED", admission.reason);
    log.info({ reason: admission.reason, conversation }, "refused by limits; dropped without a reply");
    return { kind: "dropped" };
  }
  if (admission.kind === "refused") {
    metrics.limitRefusals.inc({ kind: admission.metric });
    // Recorded before the send: a rerun that resends this reply still marks the message DENIED.
    await deps.db.inboundMessage.update({ where: { id: inboundId }, data: { error: admission.reason } });
    log.info({ reason: admission.reason, conversation }, "refused by limits");
    return { kind: "reply", message: textReply(admission.text), denied: admission.reason };
  }
  return answerTurn(deps, run, { text, userId, reservation: admission.reservation });
}

/** The agent's turn for an admitted message, charged what the model reported. */
async function answerTurn(
  deps: InboundRuntime,
  run: InboundRun,
  admitted: { text: string; userId: string; reservation: Reservation },
): Promise<Reply> {
  const { metrics, limits } = deps;
  const { msg, log, helpers, conversation, inboundId, traceId } = run;
  const { reservation } = admitted;
  const { turn, deadLettered } = await deps.agent
    .reply({
      text: admitted.text,
      conversationId: msg.conversationId,
      userId: admitted.userId,
      traceId,
      inboundId,
      snapshot: run.snapshot,
      latest: () => deps.policy.snapshot(),
      memory: run.seen.memory,
      resume: run.row.modelCalls > 0,
      onSlow: async () => {
        // Best effort: the answer follows anyway, so a failed interim send is only logged.
        try {
          const sent = await run.send(`interim:${inboundId}`, textReply(WORKING_REPLY));
          metrics.outbound.inc({ channel: sent.channel ?? "none", outcome: sent.outcome });
        } catch (error) {
          log.info(
            { err: error instanceof Error ? error.message : String(error), conversation },
            "interim message not sent",
          );
        }
      },
    })
    .then(
      (turn): { turn: AgentReply | typeof FAILED_TURN; deadLettered?: string } => ({ turn }),
      async (error: unknown) => {
        // A database outage: the job retries. A failure that retrying will not fix (or the
        // last attempt) is dead-lettered and the user still gets an answer.
        const why = giveUp(error, helpers.job);
        if (!why) throw error;
        const id = await deadLetterJob(deps.db, { inboundId, traceId, why, error, attempts: helpers.job.attempts });
        metrics.deadLetters.inc({ source: "INBOUND_JOB" });
        log.error(
          { err: error, conversation, why, deadLetterId: id },
          "agent turn failed; dead-lettered, sending the fallback",
        );
        return { turn: FAILED_TURN, deadLettered: `dead_letter:${id}` };
      },
    )
    .catch(async (error: unknown) => {
      // The job retries: give the reservation back first (nothing is charged).
      await limits
        .settle(reservation, undefined)
        .catch((e: unknown) => log.warn({ err: e, conversation }, "token reservation not released"));
      throw error;
    });
  // Charged what the model reported (a model that was down reported nothing: not charged),
  // while the reply goes out.
  const settled = limits
    .settle(reservation, turn.usage)
    .catch((e: unknown) => log.warn({ err: e, conversation }, "token usage not settled"));
  metrics.agentTurns.inc({ outcome: turn.outcome });
  for (const c of turn.calls)
    metrics.toolCalls.inc({
      skill: skillLabel(c.skillKey, (k) => SKILLS.has(k) || run.snapshot.skills.has(k)),
      decision: c.decision,
      outcome: c.outcome,
    });
  log.info(
    {
      turn: turn.outcome,
      toolCalls: turn.toolCalls,
      approvals: turn.approvals.length,
      tokens: turn.usage.promptTokens + turn.usage.completionTokens,
      conversation,
      ...("error" in turn ? { error: turn.error } : {}),
    },
    "agent turn",
  );
  return { kind: "reply", message: textReply(turn.text), settled, remembered: turn.remembered, deadLettered };
}

/** What a given-up turn answers (its failure is in the dead letter). */
const FAILED_TURN = {
  text: TURN_FAILED_REPLY,
  outcome: "failed" as const,
  toolCalls: 0,
  approvals: [] as string[],
  calls: [] as AgentReply["calls"],
  usage: { promptTokens: 0, completionTokens: 0 },
  remembered: undefined,
};

/**
 * Step 3: the reply goes out, then the row is finished: REPLIED, DENIED (with why) or FAILED. A
 * throttled send reschedules the job; a failed one retries it (or ends FAILED when it cannot help).
 */
async function deliver(deps: InboundRuntime, run: InboundRun, answer: Reply): Promise<void> {
  const { metrics } = deps;
  const { msg, log, helpers, conversation, inboundId, traceId, deferrals, targets } = run;
  // What ran beside the send, awaited once before the row is finished (REPLIED means settled
  // and remembered) or the job ends another way.
  const drain = once(async () => {
    await answer.settled;
    // Not the job's to retry: a rerun sends the stored reply and runs no turn to remember.
    const notSaved = await answer.remembered;
    if (notSaved)
      log.warn({ err: notSaved.message, conversation }, "conversation memory not saved; the next turn lacks this one");
  });
  try {
    const key = answer.deadLettered ? `failed:${inboundId}` : replyKey(inboundId);
    const { outcome, channel } = await run.send(key, answer.message);
    metrics.outbound.inc({ channel: channel ?? "none", outcome });
    await drain();
    if (answer.deadLettered) await run.finish("FAILED", answer.deadLettered);
    else if (outcome === "already_failed") await run.finish("FAILED");
    else await run.finish(answer.denied === undefined ? "REPLIED" : "DENIED", answer.denied);
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
      await run.finish("FAILED", reason);
      log.warn({ reason, conversation }, "reply failed permanently");
      return;
    }
    if (helpers.job.attempts >= helpers.job.max_attempts) await run.finish("FAILED", reason);
    log.warn({ reason, attempt: helpers.job.attempts, conversation }, "reply failed; the job will retry");
    throw error;
  } finally {
    await drain();
  }
}

/** `run` called once; later calls get the first call's promise. */
function once(run: () => Promise<void>): () => Promise<void> {
  let started: Promise<void> | undefined;
  return () => (started ??= run());
}

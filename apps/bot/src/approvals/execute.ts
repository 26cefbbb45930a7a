/**
 * The `approval.execute` job: a decided approval request -> (approved) the skill runs once with
 * the stored input -> a reply in the conversation the request came from.
 *
 * Exactly once, with two replicas and retried jobs:
 * - Execution: the request row is locked `FOR UPDATE` for the whole run; only a row still
 *   APPROVED runs, and it leaves EXECUTED or FAILED in the same transaction as its
 *   SkillInvocation. A second job waits on the lock, then sees EXECUTED and only replies.
 *   The window left: the process (or the database) dies after the skill's side effect and
 *   before the commit; the retry runs the skill again with the same idempotency key
 *   (`<traceId>:<approvalId>`, which the internal-API skills send as `Idempotency-Key`).
 * - Reply: `sendReply` with the key `approval:<id>` (one OutboundMessage row, locked while
 *   sending), so a retried or duplicated job does not answer twice.
 *
 * Bound to the exact invocation: the binding hash (skill key, the skill's definition version,
 * the stored input, requester, conversation) is recomputed, and the policy decided again. A
 * skill disabled, a rule now denying, safe mode, or any change in the bound fields leaves the
 * request INVALIDATED (audited) instead of run, and the reply says why.
 */
import { randomUUID } from "node:crypto";
import { decide, effectiveSafeMode } from "@clawgate/core";
import {
  APPROVAL_EXECUTE_TASK,
  approvalBindingHash,
  approvalJobKey,
  auditInvalidation,
  enqueueNotifyJob,
} from "@clawgate/core/approvals.ts";
import { dataKeysOf, sealJson, type ApprovalRequest, type KeyRing, type Prisma } from "@clawgate/db";
import { robotMessageSchema, textReply } from "@clawgate/dingtalk";
import { runSkill, type SkillContext, type SkillResult } from "@clawgate/skills";
import type { JobHelpers, Task } from "graphile-worker";
import type pg from "pg";
import { z } from "zod";
import type { Catalog } from "../agent/catalog.ts";
import { skillLabel } from "../metrics.ts";
import { skillSecretReader } from "../secret-refs.ts";
import { hashId, maskPersonalData } from "@clawgate/core/redact.ts";
import type { WorkerDeps } from "../worker/deps.ts";
import { skillVersion } from "./binding.ts";
import { replyTargets, sendReply, SendFailedError, ThrottledError, type ReplyTarget } from "../worker/reply.ts";

export { APPROVAL_EXECUTE_TASK };

export interface ApprovalDeps extends WorkerDeps {
  /** Skill settings per config revision (the agent's catalog). */
  catalog: (revision: number) => Promise<Catalog>;
  /** The robot that answers when neither the request's message nor its conversation names one (DINGTALK_APP_KEY). */
  defaultRobotCode?: string | undefined;
  fetch?: typeof fetch;
  /** `group.announce`'s group send, bound to a send key (worker/announce.ts). */
  announce?: (sendKey: string) => NonNullable<SkillContext["announce"]>;
}

/** What ApprovalRequest.result holds after execution. */
export type ApprovalResult =
  { ok: true; content: string } | { ok: false; error: string; refused?: boolean; reasons?: string[] };

const payloadSchema = z.object({
  approvalId: z.string().min(1),
  deferrals: z.number().int().min(0).optional(),
});

const MAX_CONTENT = 3_500;

/** The answer the requester gets for a request in a final state (undefined: nothing to say yet). */
export function approvalReplyText(
  a: Pick<ApprovalRequest, "skillKey" | "status" | "decisionNote" | "result">,
  deciders: readonly { approve: boolean; deciderName: string }[] = [],
): string | undefined {
  const result = a.result as ApprovalResult | null;
  const names = (approve: boolean) =>
    deciders
      .filter((d) => d.approve === approve)
      .map((d) => d.deciderName)
      .join(" and ");
  const by = (approve: boolean) => (names(approve) ? ` by ${names(approve)}` : "");
  switch (a.status) {
    case "REJECTED":
      return `Your request ${a.skillKey} was rejected${by(false) || " by an approver"}: ${a.decisionNote || "no reason given"}.`;
    case "EXPIRED":
      return `Your request ${a.skillKey} expired without a decision. Ask again if you still need it.`;
    case "EXECUTED":
      return `Your request ${a.skillKey} was approved${by(true)} and done: ${result?.ok ? result.content : ""}`;
    case "INVALIDATED":
      return `Your request ${a.skillKey} was approved${by(true)} but not run: ${result && !result.ok ? result.error : "it no longer matches the policy"}`;
    case "FAILED":
      return `Your request ${a.skillKey} was approved${by(true)} but failed: ${result && !result.ok ? result.error : "unknown error"}`;
    default:
      return undefined;
  }
}

/** Said when the bound fields no longer match: the approval was for something else. */
export const BINDING_CHANGED =
  "what was approved no longer matches the request (the skill's definition, the arguments, the requester or the conversation changed since). Ask again.";

type Outcome = "SUCCESS" | "ERROR" | "TIMEOUT" | "DENIED";

function skillResult(r: SkillResult): ApprovalResult {
  return r.ok
    ? { ok: true, content: r.content.slice(0, MAX_CONTENT) }
    : { ok: false, error: r.error.slice(0, MAX_CONTENT) };
}

/**
 * Runs an APPROVED request (once: see the file comment). Returns the row as it is afterwards,
 * or null when it does not exist. Throws when there is no policy snapshot yet (the job retries).
 */
export async function executeApproval(deps: ApprovalDeps, approvalId: string): Promise<ApprovalRequest | null> {
  const { db, logger } = deps;
  const now = deps.now ?? Date.now;
  const current = await db.approvalRequest.findUnique({ where: { id: approvalId } });
  if (!current || current.status !== "APPROVED") return current;

  const snapshot = deps.policy.snapshot();
  if (!snapshot) throw new Error("no policy snapshot loaded yet; the approval runs once there is one");
  const catalog = await deps.catalog(snapshot.revision);
  // Built-in skills and the approved outside tools (MCP, HTTP) of this revision: the one toolbox.
  const found = catalog.toolbox.get(current.skillKey);
  const settings = catalog.settings(found?.settingsFrom ?? current.skillKey);
  const skillTimeoutMs = found?.manifest.timeoutMs ?? 0;

  return db.$transaction(
    async (tx) => {
      const locked = await tx.$queryRaw<
        { id: string }[]
      >`SELECT "id" FROM "ApprovalRequest" WHERE "id" = ${approvalId} FOR UPDATE`;
      if (locked.length === 0) return null;
      const a = await tx.approvalRequest.findUniqueOrThrow({
        where: { id: approvalId },
        include: { invocation: { select: { inboundMessageId: true } } },
      });
      if (a.status !== "APPROVED") return a; // another job ran it while this one waited for the lock
      const log = logger.child({
        traceId: a.traceId,
        approvalId,
        skill: a.skillKey,
        conversation: hashId(a.conversationId),
      });

      const started = performance.now();
      const decision = decide(
        snapshot,
        { conversationId: a.conversationId, userId: a.requesterId, now: now() },
        { kind: "skill", skillKey: a.skillKey },
      );
      const skill = catalog.toolbox.get(a.skillKey);
      const bound =
        skill !== undefined &&
        a.bindingHash ===
          approvalBindingHash({
            skillKey: a.skillKey,
            skillVersion: skillVersion(skill.manifest, snapshot, settings),
            input: a.input,
            requesterId: a.requesterId,
            conversationId: a.conversationId,
          });
      const reasons: string[] = decision.outcome === "deny" ? decision.reasons.map((r) => r.code) : [];
      let result: ApprovalResult;
      let outcome: Outcome;
      let cacheHit = false;
      if (decision.outcome === "deny") {
        result = { ok: false, refused: true, error: decision.reasons.map((r) => r.detail).join(" "), reasons };
        outcome = "DENIED";
      } else if (!skill) {
        result = { ok: false, error: `the skill "${a.skillKey}" is not available in this runtime` };
        outcome = "ERROR";
      } else if (!bound) {
        reasons.push("binding.changed");
        result = { ok: false, refused: true, error: BINDING_CHANGED, reasons };
        outcome = "DENIED";
      } else {
        // needs_approval is what an approved request expects; allow (no longer needs one) runs too.
        const ctx: SkillContext = {
          signal: new AbortController().signal,
          settings,
          conversationId: a.conversationId,
          userId: a.requesterId,
          // Per request: the internal API dedupes a re-run of this request, never another request of the same turn.
          traceId: `${a.traceId}:${a.id}`,
          fetch: deps.fetch ?? fetch,
          now,
          getSecret: skillSecretReader(catalog.secretRefs),
          status: async () => ({
            safeMode: effectiveSafeMode(snapshot.safeMode, now(), a.conversationId) ?? "off",
            configRevision: snapshot.revision,
          }),
          ...(deps.announce ? { announce: deps.announce(`${a.traceId}:${a.id}`) } : {}),
        };
        const run = await runSkill(skill.manifest, skill.handler, a.input, ctx);
        cacheHit = run.cacheHit;
        result = skillResult(run.result);
        outcome = run.result.ok ? "SUCCESS" : / timed out after /.test(run.result.error) ? "TIMEOUT" : "ERROR";
      }

      const refused = !result.ok && result.refused === true;
      const recorded = refused ? "DENY" : "ALLOW";
      await tx.skillInvocation.create({
        data: {
          traceId: a.traceId,
          inboundMessageId: a.invocation?.inboundMessageId ?? null,
          conversationId: a.conversationId,
          userId: a.requesterId,
          skillKey: a.skillKey,
          decision: recorded,
          reasons,
          latencyMs: Math.round(performance.now() - started),
          cacheHit,
          outcome,
          error: result.ok ? null : result.error.slice(0, 500),
          configRevision: snapshot.revision,
        },
      });
      if (refused) await auditInvalidation(tx, a, reasons);
      // The card shows the outcome to every approver.
      await enqueueNotifyJob(tx, approvalId);
      const updated = await tx.approvalRequest.update({
        where: { id: approvalId },
        data: {
          status: result.ok ? "EXECUTED" : refused ? "INVALIDATED" : "FAILED",
          executedAt: new Date(now()),
          result: result as Prisma.InputJsonValue,
        },
      });
      deps.metrics.toolCalls.inc({
        skill: skillLabel(a.skillKey, (k) => Boolean(skill) || snapshot.skills.has(k)),
        decision: recorded,
        outcome,
      });
      log.info({ outcome, reasons, revision: snapshot.revision }, "approval executed");
      return updated;
    },
    // The lock is held while the skill runs: room for its timeout and for waiting on a concurrent run.
    { maxWait: 10_000, timeout: 2 * skillTimeoutMs + 30_000 },
  );
}

interface Route {
  targets: ReplyTarget[];
  robotCode: string | undefined;
  inboundId: string | null;
}

/**
 * Where the answer goes: the original message's routes while it is stored (its sessionWebhook
 * if still valid, else the OpenAPI), else the OpenAPI to the conversation row's chat.
 */
async function routeFor(deps: ApprovalDeps, a: ApprovalRequest): Promise<Route> {
  const openApi = deps.senders.openApi !== undefined;
  const invocation = a.invocationId
    ? await deps.db.skillInvocation.findUnique({
        where: { id: a.invocationId },
        select: { inboundMessage: { select: { id: true, robotCode: true, payload: true } } },
      })
    : null;
  const inbound = invocation?.inboundMessage;
  const msg = inbound ? robotMessageSchema.safeParse(inbound.payload) : undefined;
  if (inbound && msg?.success) {
    const targets = replyTargets(msg.data, { allowedHosts: deps.webhookHosts, openApi, now: (deps.now ?? Date.now)() });
    return { targets, robotCode: inbound.robotCode, inboundId: inbound.id };
  }
  const conversation = await deps.db.conversation.findUnique({
    where: { conversationId: a.conversationId },
    select: { type: true, robotCode: true },
  });
  const robotCode = conversation?.robotCode ?? deps.defaultRobotCode;
  if (!openApi || !conversation) return { targets: [], robotCode, inboundId: null };
  const target: ReplyTarget =
    conversation.type === "GROUP"
      ? { channel: "OPENAPI_GROUP", openConversationId: a.conversationId }
      : { channel: "OPENAPI_ONE_TO_ONE", userIds: [a.requesterId] };
  return { targets: [target], robotCode, inboundId: null };
}

/** No way to answer at all: recorded as a FAILED send, so the sweep stops retrying it. */
async function recordUndeliverable(
  pool: pg.Pool,
  keys: KeyRing | null,
  a: ApprovalRequest,
  text: string,
  reason: string,
): Promise<void> {
  await pool.query(
    `INSERT INTO "OutboundMessage" ("id", "idempotencyKey", "conversationId", "channel", "msgType", "payload", "traceId", "status", "lastError")
     VALUES ($1, $2, $3, 'OPENAPI_GROUP', 'text', $4::jsonb, $5, 'FAILED', $6)
     ON CONFLICT ("idempotencyKey") DO NOTHING`,
    [
      randomUUID(),
      approvalJobKey(a.id),
      a.conversationId,
      JSON.stringify(sealJson(keys, textReply(text))),
      a.traceId,
      maskPersonalData(reason),
    ],
  );
}

export function createApprovalExecutor(deps: ApprovalDeps): Task {
  return async (rawPayload: unknown, helpers: JobHelpers) => {
    const payload = payloadSchema.safeParse(rawPayload);
    if (!payload.success) {
      // Not retried: no attempt would make it valid.
      deps.logger.warn({ jobId: helpers.job.id }, "approval job with an invalid payload; dropped");
      return;
    }
    const { approvalId, deferrals = 0 } = payload.data;
    const a = await executeApproval(deps, approvalId);
    if (!a) {
      deps.logger.warn({ approvalId, jobId: helpers.job.id }, "approval request not found; nothing to do");
      return;
    }
    const deciders = await deps.db.approvalDecision.findMany({
      where: { approvalId },
      orderBy: { createdAt: "asc" },
      select: { approve: true, deciderName: true },
    });
    const text = approvalReplyText(a, deciders);
    if (text === undefined) return; // still PENDING: its decision enqueues another job
    const log = deps.logger.child({
      traceId: a.traceId,
      approvalId,
      jobId: helpers.job.id,
      conversation: hashId(a.conversationId),
    });

    const { targets, robotCode, inboundId } = await routeFor(deps, a);
    if (!robotCode || targets.length === 0) {
      const reason = !robotCode
        ? "no robot code for this conversation (DINGTALK_APP_KEY)"
        : "no route to the conversation (no DingTalk app credentials, or the conversation is unknown)";
      await recordUndeliverable(deps.pool, dataKeysOf(deps.db), a, text, reason);
      deps.metrics.outbound.inc({ channel: "none", outcome: "failed" });
      log.warn({ reason, status: a.status }, "approval cannot be answered");
      return;
    }
    try {
      const { outcome, channel } = await sendReply({
        pool: deps.pool,
        keys: dataKeysOf(deps.db),
        throttle: deps.throttle,
        senders: deps.senders,
        idempotencyKey: approvalJobKey(a.id),
        inboundId,
        robotCode,
        conversationId: a.conversationId,
        traceId: a.traceId,
        targets,
        message: textReply(text),
        deferrals,
      });
      deps.metrics.outbound.inc({ channel: channel ?? "none", outcome });
      log.info({ status: a.status, outcome, channel }, "approval answered");
    } catch (error) {
      if (error instanceof ThrottledError) {
        deps.metrics.outbound.inc({ channel: targets[0]?.channel ?? "none", outcome: "throttled" });
        const runAt = new Date(Date.now() + error.retryInMs);
        await helpers.addJob(
          APPROVAL_EXECUTE_TASK,
          { approvalId, deferrals: deferrals + 1 },
          { runAt, jobKey: approvalJobKey(approvalId) },
        );
        log.info({ scope: error.scope, retryInMs: error.retryInMs }, "approval answer throttled; rescheduled");
        return;
      }
      deps.metrics.outbound.inc({ channel: targets[0]?.channel ?? "none", outcome: "failed" });
      const reason = error instanceof Error ? error.message : String(error);
      if (error instanceof SendFailedError && error.permanent) {
        log.warn({ reason, status: a.status }, "approval answer failed permanently");
        return;
      }
      log.warn({ reason, attempt: helpers.job.attempts }, "approval answer failed; the job will retry");
      throw error;
    }
  };
}

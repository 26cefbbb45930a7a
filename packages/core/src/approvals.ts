/**
 * Approval requests: made by the runtime (`requestApproval`), decided by approvers in the console
 * or on a DingTalk card (`decideApproval`, `decideApprovalByCard`), expired and escalated by the
 * runtime's sweep, listed and measured for the console.
 *
 * - Bound to the exact invocation: a request stores `bindingHash` = sha256 of (skill key, skill
 *   definition version, canonical input, requester, conversation). The runtime recomputes it at
 *   execution and decides the policy again; any difference refuses the run (INVALIDATED).
 * - Quorum: `requiredApprovals` distinct approvers (per risk class, overridable per skill, from the
 *   onboard file's `approvals` section); any one rejection rejects. One ApprovalDecision row per
 *   person and request (its unique key also dedupes a redelivered card click).
 * - No self-approval: the requester's DingTalk userId / unionId is compared with the decider's
 *   (declared in the onboard file, or the unionId linked by a DingTalk sign-in). Admins too.
 * - A decision commits in ONE transaction: the row is locked (two approvers at once: the second
 *   waits, then sees the first), the vote and the audit entry are written, and when the request
 *   is decided a graphile-worker job `approval.execute` is enqueued, so the runtime wakes at commit.
 */
import { createHash } from "node:crypto";
import type { ApprovalRequest, ApprovalStatus, Db, Prisma, RiskClass, Tx } from "@clawgate/db";
import { z } from "zod";
import type { Actor } from "./actor.ts";
import { appendAudit, canonicalJson } from "./audit.ts";
import { approvalsSectionSchema, type ApprovalsSection } from "./config/schema.ts";
import { DomainError } from "./errors.ts";
import { redactInput } from "./redact.ts";

/** The runtime's job that executes (or answers) a decided request; payload `{ approvalId }`. */
export const APPROVAL_EXECUTE_TASK = "approval.execute";
/** The runtime's job that shows a request to approvers (card or markdown) or updates its card; payload `{ approvalId, escalate? }`. */
export const APPROVAL_NOTIFY_TASK = "approval.notify";
/** One job per request: a second enqueue of the same request replaces (or joins) the first. */
export const approvalJobKey = (approvalId: string) => `approval:${approvalId}`;
export const approvalNotifyJobKey = (approvalId: string) => `approval-notify:${approvalId}`;

/** The flag that turns on approvers' chats (cards, or markdown with a console link). */
export const APPROVAL_CARDS_FLAG = "approvals.dingtalk_cards";

export const DEFAULT_EXPIRY_MINUTES = 30;
export const DEFAULT_QUORUM: Record<RiskClass, number> = { READ: 1, WRITE: 1, DESTRUCTIVE: 2 };

// 1. Settings (the onboard file's `approvals` section) -----------------------------------------

export interface ApprovalSettings {
  cardTemplateId: string | undefined;
  approverChats: string[];
  escalationChat: string | undefined;
  escalateAfterMinutes: number | undefined;
  expiresAfterMinutes(skillKey: string): number;
  quorum(skillKey: string, risk: RiskClass): number;
}

export function approvalSettings(section: ApprovalsSection | undefined): ApprovalSettings {
  const s = section ?? {};
  return {
    cardTemplateId: s.card_template_id,
    approverChats: s.approver_chats ?? [],
    escalationChat: s.escalation_chat,
    escalateAfterMinutes: s.escalate_after_minutes,
    expiresAfterMinutes: (key) =>
      s.skills?.[key]?.expires_after_minutes ?? s.expires_after_minutes ?? DEFAULT_EXPIRY_MINUTES,
    quorum: (key, risk) =>
      s.skills?.[key]?.quorum ??
      (risk === "DESTRUCTIVE" ? s.quorum?.destructive : risk === "WRITE" ? s.quorum?.write : undefined) ??
      DEFAULT_QUORUM[risk],
  };
}

/** The stored section (validated again: it may predate this version of the schema). */
export async function loadApprovalSettings(db: Db | Tx): Promise<ApprovalSettings> {
  const row = await db.configSection.findUnique({ where: { key: "approvals" } });
  const parsed = row ? approvalsSectionSchema.safeParse(row.value) : undefined;
  return approvalSettings(parsed?.success ? parsed.data : undefined);
}

// 2. Binding ------------------------------------------------------------------------------------

export interface ApprovalBinding {
  skillKey: string;
  /** The skill's definition version (its risk, input schema and settings; see the runtime's skillVersion). */
  skillVersion: string;
  /** The canonical arguments (as they will run, after the skill's resolveInput). */
  input: unknown;
  requesterId: string;
  conversationId: string;
}

export function approvalBindingHash(b: ApprovalBinding): string {
  return createHash("sha256")
    .update(
      canonicalJson({
        skillKey: b.skillKey,
        skillVersion: b.skillVersion,
        input: b.input,
        requesterId: b.requesterId,
        conversationId: b.conversationId,
      }),
    )
    .digest("hex");
}

// 3. Requesting ---------------------------------------------------------------------------------

export interface RequestApprovalInput extends ApprovalBinding {
  riskClass: RiskClass;
  traceId: string;
  configRevision: number;
  /** The SkillInvocation row of the call (PENDING_APPROVAL), when there is one. */
  invocationId?: string | null;
  /** The inbound message the request came from: the requester's name and the chat's title are read from it. */
  inboundId?: string | null;
  /** Why approval is needed beyond the skill's own setting, shown to approvers (e.g. "the turn read untrusted content"). */
  reason?: string;
  /** The untrusted tool outputs the turn had read before this call, shown to approvers. */
  untrustedSources?: readonly { skillKey: string; invocationId: string }[];
  now?: Date;
}

/**
 * Creates a PENDING request inside the caller's transaction: expiry and quorum from the
 * `approvals` settings, the binding hash, the people (requester's DingTalk name, the chat's
 * title), an audit entry, and the job that shows it to approvers. Stable entry point: the agent's
 * tool calls and the untrusted-content gate both call it.
 */
export async function requestApproval(
  tx: Tx,
  input: RequestApprovalInput,
): Promise<{ id: string; expiresAt: Date; requiredApprovals: number }> {
  const now = input.now ?? new Date();
  const settings = await loadApprovalSettings(tx);
  const people = await peopleOf(tx, input.inboundId ?? null, input.conversationId);
  const expiresAt = new Date(now.getTime() + settings.expiresAfterMinutes(input.skillKey) * 60_000);
  const requiredApprovals = settings.quorum(input.skillKey, input.riskClass);
  const row = await tx.approvalRequest.create({
    data: {
      invocationId: input.invocationId ?? null,
      skillKey: input.skillKey,
      conversationId: input.conversationId,
      requesterId: input.requesterId,
      input: input.input as Prisma.InputJsonValue,
      expiresAt,
      traceId: input.traceId,
      configRevision: input.configRevision,
      bindingHash: approvalBindingHash(input),
      skillVersion: input.skillVersion,
      riskClass: input.riskClass,
      requiredApprovals,
      reason: input.reason ?? null,
      ...(input.untrustedSources && {
        untrustedSources: input.untrustedSources.map((u) => ({ ...u })) as Prisma.InputJsonValue,
      }),
      ...people,
      createdAt: now,
    },
    select: { id: true },
  });
  await appendAudit(tx, {
    actor: { type: "RUNTIME", name: "runtime" },
    action: "approval.request",
    targetType: "approval",
    targetId: row.id,
    diff: {
      skillKey: input.skillKey,
      riskClass: input.riskClass,
      requiredApprovals,
      ...(input.reason && { reason: input.reason }),
    },
    traceId: input.traceId,
  });
  await enqueueJob(tx, APPROVAL_NOTIFY_TASK, { approvalId: row.id }, approvalNotifyJobKey(row.id));
  return { id: row.id, expiresAt, requiredApprovals };
}

function senderOf(payload: unknown): { nick: string | null; unionId: string | null; title: string | null } {
  const p = (payload && typeof payload === "object" ? payload : {}) as Record<string, unknown>;
  const text = (k: string) => (typeof p[k] === "string" ? (p[k] as string) : null);
  return { nick: text("senderNick"), unionId: text("senderUnionId"), title: text("conversationTitle") };
}

async function peopleOf(tx: Tx, inboundId: string | null, conversationId: string) {
  // The payload is encrypted at rest: read whole (the client decrypts it), not with ->> in SQL.
  const stored = inboundId
    ? await tx.inboundMessage.findUnique({ where: { id: inboundId }, select: { payload: true } })
    : null;
  const msg = stored ? senderOf(stored.payload) : undefined;
  const title =
    msg?.title ||
    (await tx.conversation.findUnique({ where: { conversationId }, select: { title: true } }))?.title ||
    null;
  return { requesterName: msg?.nick || null, requesterUnionId: msg?.unionId || null, conversationTitle: title };
}

// 4. Deciding -----------------------------------------------------------------------------------

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

/** What a recorded vote did to the request. */
export interface DecisionOutcome {
  request: ApprovalRequest;
  /** Approvals so far (after this vote) and how many are needed. */
  approvals: number;
  required: number;
  /** The request left PENDING with this vote (APPROVED or REJECTED). */
  final: boolean;
}

/** Adds `task` for the request inside `tx`, when the queue's schema exists. */
async function enqueueJob(
  tx: Tx | Db,
  task: string,
  payload: Record<string, unknown>,
  jobKey: string,
): Promise<boolean> {
  const [schema] = await tx.$queryRaw<
    { present: boolean }[]
  >`SELECT to_regnamespace('graphile_worker') IS NOT NULL AS present`;
  if (!schema?.present) return false; // the runtime's sweep picks the request up once it runs
  await tx.$queryRaw`SELECT 1 FROM graphile_worker.add_job(
    ${task}, ${JSON.stringify(payload)}::json,
    max_attempts := 10, job_key := ${jobKey}, job_key_mode := 'preserve_run_at')`;
  return true;
}

/** Enqueues `approval.execute` for the request inside `tx`, when the queue's schema exists. */
export const enqueueApprovalJob = (tx: Tx | Db, approvalId: string) =>
  enqueueJob(tx, APPROVAL_EXECUTE_TASK, { approvalId }, approvalJobKey(approvalId));

/** Enqueues `approval.notify` (the card updated, or an escalation announced) for the request. */
export const enqueueNotifyJob = (tx: Tx | Db, approvalId: string, opts: { escalate?: boolean } = {}) =>
  enqueueJob(
    tx,
    APPROVAL_NOTIFY_TASK,
    { approvalId, ...(opts.escalate && { escalate: true }) },
    `${approvalNotifyJobKey(approvalId)}${opts.escalate ? ":escalate" : ""}`,
  );

interface Decider {
  user: {
    id: string;
    name: string | null;
    email: string | null;
    dingtalkUserId: string | null;
    dingtalkUnionId: string | null;
  };
  channel: "CONSOLE" | "CARD";
  /** The DingTalk userId that clicked (card decisions). */
  dingtalkUserId?: string;
  actor: Actor;
}

const USER_COLUMNS = {
  id: true,
  name: true,
  email: true,
  role: true,
  disabledAt: true,
  dingtalkUserId: true,
  dingtalkUnionId: true,
} as const;

/** The requester and the decider are the same DingTalk person (declared ids, or a DingTalk sign-in's unionId). */
async function isSelfApproval(tx: Tx, request: ApprovalRequest, decider: Decider): Promise<boolean> {
  const userIds = [decider.user.dingtalkUserId, decider.dingtalkUserId].filter(Boolean);
  if (userIds.includes(request.requesterId)) return true;
  if (!request.requesterUnionId) return false;
  if (decider.user.dingtalkUnionId === request.requesterUnionId) return true;
  const linked = await tx.account.count({
    where: { userId: decider.user.id, provider: "dingtalk", providerAccountId: request.requesterUnionId },
  });
  return linked > 0;
}

async function lockRequest(tx: Tx, id: string): Promise<ApprovalRequest> {
  const locked = await tx.$queryRaw<{ id: string }[]>`SELECT "id" FROM "ApprovalRequest" WHERE "id" = ${id} FOR UPDATE`;
  const request = locked.length > 0 ? await tx.approvalRequest.findUnique({ where: { id } }) : null;
  if (!request) throw new DomainError("NOT_FOUND", `There is no approval request "${id}".`, { reason: "not_found" });
  return request;
}

async function recordVote(
  tx: Tx,
  request: ApprovalRequest,
  decider: Decider,
  vote: { approve: boolean; note?: string | undefined; traceId?: string | undefined },
  now: Date,
): Promise<DecisionOutcome> {
  if (request.status === "EXPIRED" || (request.status === "PENDING" && request.expiresAt <= now)) {
    throw new DomainError(
      "PRECONDITION_FAILED",
      `The request for ${request.skillKey} expired at ${request.expiresAt.toISOString()}; the user has to ask again.`,
      { reason: "expired" },
    );
  }
  if (request.status !== "PENDING") {
    throw new DomainError(
      "CONFLICT",
      `The request for ${request.skillKey} was already decided (${request.status.toLowerCase()}).`,
      { reason: "already_decided" },
    );
  }
  if (await isSelfApproval(tx, request, decider)) {
    throw new DomainError("FORBIDDEN", "You made this request: another approver has to decide it.", {
      reason: "self_approval",
    });
  }
  const earlier = await tx.approvalDecision.findUnique({
    where: { approvalId_userId: { approvalId: request.id, userId: decider.user.id } },
    select: { approve: true },
  });
  if (earlier) {
    throw new DomainError(
      "CONFLICT",
      `You already ${earlier.approve ? "approved" : "rejected"} this request; ${request.requiredApprovals} distinct approvers are needed.`,
      { reason: "already_voted" },
    );
  }
  const deciderName = decider.user.name ?? decider.user.email ?? decider.user.id;
  await tx.approvalDecision.create({
    data: {
      approvalId: request.id,
      userId: decider.user.id,
      approve: vote.approve,
      channel: decider.channel,
      deciderName,
      dingtalkUserId: decider.dingtalkUserId ?? null,
      note: vote.note || null,
      createdAt: now,
    },
  });
  const approvals = await tx.approvalDecision.count({ where: { approvalId: request.id, approve: true } });
  const status: ApprovalStatus | null = !vote.approve
    ? "REJECTED"
    : approvals >= request.requiredApprovals
      ? "APPROVED"
      : null;
  const updated = status
    ? await tx.approvalRequest.update({
        where: { id: request.id },
        data: { status, decidedById: decider.user.id, decidedAt: now, decisionNote: vote.note || null },
      })
    : await tx.approvalRequest.update({ where: { id: request.id }, data: { updatedAt: now } });
  await appendAudit(tx, {
    actor: decider.actor,
    action: !vote.approve ? "approval.reject" : status ? "approval.approve" : "approval.vote",
    targetType: "approval",
    targetId: request.id,
    diff: {
      skillKey: request.skillKey,
      channel: decider.channel,
      approvals: { count: approvals, required: request.requiredApprovals },
      ...(status && { status: { from: "PENDING", to: status } }),
      note: vote.note ? "set" : "none",
    },
    traceId: vote.traceId ?? request.traceId,
  });
  if (status) await enqueueApprovalJob(tx, request.id);
  // The card shows "1 of 2 approvals" (or the outcome) to everyone.
  await enqueueNotifyJob(tx, request.id);
  return { request: updated, approvals, required: request.requiredApprovals, final: status !== null };
}

function parseDecision(input: DecideApprovalInput) {
  const parsed = decideApprovalInput.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "input"}: ${i.message}`);
    throw new DomainError("BAD_REQUEST", `Invalid decision: ${problems.join("; ")}`, {
      reason: "invalid_input",
      problems,
    });
  }
  return parsed.data;
}

/**
 * A console user's vote on a PENDING, unexpired request. Throws DomainError (and changes
 * nothing) otherwise: not found, expired, already decided, self-approval, a second vote.
 */
export async function decideApproval(
  db: Db,
  actor: Actor,
  input: DecideApprovalInput,
  now: Date = new Date(),
): Promise<DecisionOutcome> {
  const { id, approve, note, traceId } = parseDecision(input);
  return db.$transaction(async (tx) => {
    // Defence in depth behind the console's role check; also the decision's user.
    const user =
      actor.type === "USER" && actor.id
        ? await tx.user.findUnique({ where: { id: actor.id }, select: USER_COLUMNS })
        : null;
    if (!user || user.disabledAt || !DECIDING_ROLES.has(user.role)) {
      throw new DomainError("FORBIDDEN", "Only an approver or an admin can decide approval requests.", {
        reason: "forbidden",
      });
    }
    const request = await lockRequest(tx, id);
    return recordVote(tx, request, { user, channel: "CONSOLE", actor }, { approve, note, traceId }, now);
  });
}

/**
 * A click on a request's DingTalk card by `dingtalkUserId`. The clicker must be an active
 * APPROVER or ADMIN whose declared DingTalk userId it is; DESTRUCTIVE requests are decided in
 * the console only. Throws DomainError with a message for the card otherwise.
 */
export async function decideApprovalByCard(
  db: Db,
  input: { approvalId: string; dingtalkUserId: string; approve: boolean; traceId?: string },
  now: Date = new Date(),
): Promise<DecisionOutcome> {
  const { id, approve, traceId } = parseDecision({
    id: input.approvalId,
    approve: input.approve,
    traceId: input.traceId,
  });
  const dingtalkUserId = input.dingtalkUserId.trim();
  if (!dingtalkUserId)
    throw new DomainError("BAD_REQUEST", "The click names no DingTalk user.", { reason: "invalid_input" });
  return db.$transaction(async (tx) => {
    const user = await tx.user.findUnique({ where: { dingtalkUserId }, select: USER_COLUMNS });
    if (!user || user.disabledAt || !DECIDING_ROLES.has(user.role)) {
      throw new DomainError(
        "FORBIDDEN",
        "Your DingTalk account is not an approver in Clawgate: an admin lists you under users with your dingtalk user_id.",
        { reason: "unmapped_user" },
      );
    }
    const request = await lockRequest(tx, id);
    const skill = await tx.skill.findUnique({ where: { key: request.skillKey }, select: { riskClass: true } });
    if (request.riskClass === "DESTRUCTIVE" || skill?.riskClass === "DESTRUCTIVE") {
      throw new DomainError("FORBIDDEN", "A destructive action is decided in the Clawgate console only (signed in).", {
        reason: "console_only",
      });
    }
    const actor: Actor = { type: "USER", id: user.id, name: user.email ?? user.name ?? user.id };
    return recordVote(tx, request, { user, channel: "CARD", dingtalkUserId, actor }, { approve, traceId }, now);
  });
}

// 5. Expiry, escalation, invalidation -----------------------------------------------------------

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
      // The runtime tells the requester and updates the card (best effort: the sweep catches up otherwise).
      await enqueueApprovalJob(tx, row.id);
      await enqueueNotifyJob(tx, row.id);
    }
    return rows.map((r) => r.id);
  });
}

/**
 * PENDING requests older than the configured `escalate_after_minutes` (and not escalated yet)
 * are marked and re-announced to the escalation chat. Returns their ids.
 */
export async function escalateApprovals(db: Db, now: Date = new Date(), batch = 200): Promise<string[]> {
  const settings = await loadApprovalSettings(db);
  if (!settings.escalationChat || settings.escalateAfterMinutes === undefined) return [];
  const before = new Date(now.getTime() - settings.escalateAfterMinutes * 60_000);
  return db.$transaction(async (tx) => {
    const rows = await tx.$queryRaw<{ id: string; skillKey: string }[]>`
      UPDATE "ApprovalRequest" SET "escalatedAt" = ${now}, "updatedAt" = ${now}
       WHERE "id" IN (SELECT "id" FROM "ApprovalRequest"
                       WHERE "status" = 'PENDING' AND "escalatedAt" IS NULL AND "createdAt" <= ${before} AND "expiresAt" > ${now}
                       ORDER BY "createdAt" LIMIT ${batch} FOR UPDATE SKIP LOCKED)
      RETURNING "id", "skillKey"`;
    for (const row of rows) {
      await appendAudit(tx, {
        actor: { type: "SYSTEM", name: "approval escalation" },
        action: "approval.escalate",
        targetType: "approval",
        targetId: row.id,
        diff: { skillKey: row.skillKey, chat: settings.escalationChat },
      });
      await enqueueNotifyJob(tx, row.id, { escalate: true });
    }
    return rows.map((r) => r.id);
  });
}

/** Audit of a run refused at execution (the runtime writes the row's INVALIDATED status in the same transaction). */
export async function auditInvalidation(
  tx: Tx,
  request: Pick<ApprovalRequest, "id" | "skillKey" | "traceId">,
  reasons: string[],
): Promise<void> {
  await appendAudit(tx, {
    actor: { type: "RUNTIME", name: "runtime" },
    action: "approval.invalidate",
    targetType: "approval",
    targetId: request.id,
    diff: { skillKey: request.skillKey, status: { from: "APPROVED", to: "INVALIDATED" }, reasons },
    traceId: request.traceId,
  });
}

// 6. Lists and metrics (console, CLI) ------------------------------------------------------------

export const approvalListInput = z
  .strictObject({
    status: z.enum(["PENDING", "APPROVED", "REJECTED", "EXPIRED", "EXECUTED", "FAILED", "INVALIDATED"]).optional(),
    page: z.number().int().min(1).max(10_000).default(1),
    pageSize: z.number().int().min(1).max(100).default(20),
  })
  .default({ page: 1, pageSize: 20 });

export interface ApprovalVote {
  approve: boolean;
  channel: "CONSOLE" | "CARD";
  deciderName: string;
  note: string | null;
  createdAt: Date;
}

/** The console's page: pending first, newest first, each with its votes and people. The input is redacted. */
export async function listApprovals(db: Db | Tx, raw: z.input<typeof approvalListInput>, now: Date = new Date()) {
  const input = approvalListInput.parse(raw);
  const where = input.status ? { status: input.status } : {};
  const [rows, total, pending] = await Promise.all([
    db.approvalRequest.findMany({
      where,
      // PENDING is the enum's first value and PostgreSQL sorts enums in declaration order: pending first.
      orderBy: [{ status: "asc" }, { createdAt: "desc" }, { id: "desc" }],
      skip: (input.page - 1) * input.pageSize,
      take: input.pageSize,
      select: {
        id: true,
        skillKey: true,
        conversationId: true,
        conversationTitle: true,
        requesterId: true,
        requesterName: true,
        input: true,
        status: true,
        reason: true,
        riskClass: true,
        requiredApprovals: true,
        decidedAt: true,
        decisionNote: true,
        expiresAt: true,
        executedAt: true,
        escalatedAt: true,
        result: true,
        createdAt: true,
        skill: { select: { riskClass: true, description: true } },
        decidedBy: { select: { name: true, email: true } },
        decisions: {
          orderBy: { createdAt: "asc" },
          select: { approve: true, channel: true, deciderName: true, note: true, createdAt: true },
        },
      },
    }),
    db.approvalRequest.count({ where }),
    db.approvalRequest.count({ where: { status: "PENDING", expiresAt: { gt: now } } }),
  ]);
  // Requests made before titles were kept on the row: the conversation's current title.
  const missing = [...new Set(rows.filter((r) => !r.conversationTitle).map((r) => r.conversationId))];
  const titles = new Map(
    missing.length === 0
      ? []
      : (
          await db.conversation.findMany({
            where: { conversationId: { in: missing } },
            select: { conversationId: true, title: true },
          })
        ).map((c) => [c.conversationId, c.title]),
  );
  return {
    items: rows.map(({ input: args, decidedBy, result, ...r }) => ({
      ...r,
      input: redactInput(args),
      conversationTitle: r.conversationTitle ?? titles.get(r.conversationId) ?? null,
      decidedBy: decidedBy ? (decidedBy.name ?? decidedBy.email) : null,
      approvals: r.decisions.filter((d) => d.approve).length,
      // Why a run was refused or failed (no output of a successful run: that is the requester's).
      outcome: outcomeText(r.status, result),
    })),
    total,
    pending,
    page: input.page,
    pageCount: Math.max(1, Math.ceil(total / input.pageSize)),
    now,
  };
}

function outcomeText(status: ApprovalStatus, result: unknown): string | null {
  if (status !== "FAILED" && status !== "INVALIDATED") return null;
  const r = result as { error?: unknown } | null;
  return typeof r?.error === "string" ? r.error.slice(0, 300) : null;
}

export interface ApprovalMetrics {
  /** Requests PENDING and not yet expired. */
  pending: number;
  /** Over the window: time from request to its final decision, in seconds (null without decisions). */
  decisionP50Seconds: number | null;
  decisionP95Seconds: number | null;
  decided: number;
  expired: number;
  /** expired / (decided + expired) over the window; null when there were none. */
  expiryRate: number | null;
  windowDays: number;
}

/** Approver metrics over the last `windowDays` (the Approvals page and the runtime's /metrics). */
export async function approvalMetrics(db: Db | Tx, now: Date = new Date(), windowDays = 7): Promise<ApprovalMetrics> {
  const since = new Date(now.getTime() - windowDays * 86_400_000);
  const [row] = await db.$queryRaw<
    { pending: number; decided: number; expired: number; p50: number | null; p95: number | null }[]
  >`
    SELECT
      (SELECT count(*)::int FROM "ApprovalRequest" WHERE "status" = 'PENDING' AND "expiresAt" > ${now}) AS pending,
      count(*) FILTER (WHERE "decidedAt" IS NOT NULL)::int AS decided,
      count(*) FILTER (WHERE "status" = 'EXPIRED')::int AS expired,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM ("decidedAt" - "createdAt")))
        FILTER (WHERE "decidedAt" IS NOT NULL) AS p50,
      percentile_cont(0.95) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM ("decidedAt" - "createdAt")))
        FILTER (WHERE "decidedAt" IS NOT NULL) AS p95
    FROM "ApprovalRequest" WHERE "createdAt" >= ${since}`;
  const decided = row?.decided ?? 0;
  const expired = row?.expired ?? 0;
  return {
    pending: row?.pending ?? 0,
    decisionP50Seconds: row?.p50 === null || row?.p50 === undefined ? null : Number(row.p50),
    decisionP95Seconds: row?.p95 === null || row?.p95 === undefined ? null : Number(row.p95),
    decided,
    expired,
    expiryRate: decided + expired === 0 ? null : expired / (decided + expired),
    windowDays,
  };
}

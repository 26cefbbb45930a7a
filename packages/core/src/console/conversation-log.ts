/**
 * The conversation log (console page /conversations/[id]/log): each inbound message with the
 * robot's reply, the skills it ran, was refused or waits on (with reasons), tokens, latency,
 * model, trace id and config revision; newest first, with a keyset cursor on (receivedAt, id).
 *
 * Message and reply texts go only to the roles the `conversation_log` setting allows (default
 * ADMIN and OPERATOR); for anyone else the texts are not even read, so they cannot leak. Every
 * page that shows texts is audited first (`conversation.log_view`: the conversation and the ids
 * of the messages shown, never the text); if the audit entry cannot be written, nothing is shown.
 *
 * Texts are read here only, through Prisma model reads (field encryption decrypts there).
 */
import type { Db, Prisma, Tx } from "@clawgate/db";
import type { Role } from "@clawgate/db/enums";
import { z } from "zod";
import type { Actor } from "../actor.ts";
import { appendAudit } from "../audit.ts";
import { conversationLogSectionSchema } from "../config/schema.ts";
import { DomainError, parseInput } from "../errors.ts";

export const LOG_SECTION_KEY = "conversation_log";
export const ROLES = ["ADMIN", "APPROVER", "OPERATOR", "VIEWER"] as const satisfies readonly Role[];
export const DEFAULT_TEXT_ROLES: readonly Role[] = ["ADMIN", "OPERATOR"];

/** The roles that read texts (the onboard/console setting, else the default). */
export async function logTextRoles(db: Db | Tx): Promise<Role[]> {
  const row = await db.configSection.findUnique({ where: { key: LOG_SECTION_KEY } });
  const parsed = conversationLogSectionSchema.safeParse(row?.value);
  return parsed.success ? [...parsed.data.text_roles] : [...DEFAULT_TEXT_ROLES];
}

export const logTextRolesSchema = z.strictObject({
  roles: z.array(z.enum(ROLES, { error: "a role is ADMIN, APPROVER, OPERATOR or VIEWER" })).max(4),
});

/**
 * Sets who reads texts (on the caller's transaction; ADMIN only, checked by the caller). ADMIN is
 * always kept: the people who set it can see what they allow. Returns the diff (empty: unchanged).
 */
export async function setLogTextRoles(tx: Tx, actor: Actor, input: z.input<typeof logTextRolesSchema>) {
  const { roles } = parseInput(logTextRolesSchema, input);
  const to = ROLES.filter((r) => r === "ADMIN" || roles.includes(r));
  const from = await logTextRoles(tx);
  if (from.length === to.length && from.every((r) => to.includes(r))) return { roles: to, changed: false };
  const value = { text_roles: to };
  await tx.configSection.upsert({
    where: { key: LOG_SECTION_KEY },
    create: { key: LOG_SECTION_KEY, value },
    update: { value },
  });
  await appendAudit(tx, {
    actor,
    action: "conversation.log_settings",
    targetType: "setting",
    targetId: LOG_SECTION_KEY,
    diff: { textRoles: { from, to } },
  });
  return { roles: to, changed: true };
}

/** Outcome filter: the message's own status, or what one of its skill calls came to. */
export const LOG_OUTCOMES = [
  "replied",
  "denied",
  "failed",
  "in_progress",
  "skill_ran",
  "skill_denied",
  "skill_waiting",
  "skill_failed",
] as const;
export type LogOutcome = (typeof LOG_OUTCOMES)[number];

const isoDate = z.coerce.date({ error: "must be a date" });
const text = (max: number) =>
  z
    .string()
    .trim()
    .max(max, { error: `at most ${max} characters` });

export const conversationLogSchema = z
  .strictObject({
    /** The console's id of the conversation (Conversation.id). */
    id: z.string().trim().min(1).max(64),
    /** The sender's DingTalk id (exact). */
    user: text(128).optional(),
    /** A skill key: messages with a call to it. */
    skill: text(128).optional(),
    outcome: z.enum(LOG_OUTCOMES, { error: `outcome is one of ${LOG_OUTCOMES.join(", ")}` }).optional(),
    /** The message's (and its calls' and replies') trace id, exact. */
    traceId: text(128).optional(),
    from: isoDate.optional(),
    to: isoDate.optional(),
    /** "<receivedAt ms>:<id>" of the last row of the previous page. */
    cursor: z
      .string()
      .regex(/^\d{1,15}:[\w-]{1,64}$/, { error: "cursor must come from the previous page" })
      .optional(),
    limit: z.number().int().min(1).max(100).default(25),
  })
  .refine((v) => !v.from || !v.to || v.from <= v.to, {
    error: "the start date must be before the end date",
    path: ["to"],
  });
export type ConversationLogInput = z.input<typeof conversationLogSchema>;

export interface LogViewer {
  role: Role;
  actor: Actor;
  /** The request's trace id, for the audit entry of a view with texts. */
  traceId?: string | null;
}

export interface LogSkillCall {
  id: string;
  skillKey: string;
  decision: string;
  outcome: string;
  reasons: string[];
  latencyMs: number | null;
  promptTokens: number | null;
  completionTokens: number | null;
  configRevision: number;
  approval: { id: string; status: string } | null;
}

export interface LogReply {
  id: string;
  channel: string;
  status: string;
  createdAt: Date;
  sentAt: Date | null;
  /** null: not shown to this role. */
  text: string | null;
}

export interface LogMessage {
  id: string;
  receivedAt: Date;
  processedAt: Date | null;
  /** From receipt to processed (the turn and its reply), ms. */
  latencyMs: number | null;
  senderId: string;
  channel: string;
  msgType: string;
  status: string;
  /** A reason code (rate_limited.user, backlog.conversation, ...), never text. */
  error: string | null;
  traceId: string;
  model: string | null;
  configRevision: number | null;
  modelCalls: number;
  promptTokens: number;
  completionTokens: number;
  /** null: not shown to this role. */
  text: string | null;
  /** The sender's DingTalk name (from the message; shown with the text). */
  senderName: string | null;
  replies: LogReply[];
  skills: LogSkillCall[];
}

export interface ConversationLog {
  conversation: { id: string; conversationId: string; title: string | null; type: string; status: string };
  /** Whether this viewer's role reads texts (the setting), and which roles do. */
  textShown: boolean;
  textRoles: Role[];
  items: LogMessage[];
  nextCursor: string | null;
  /** The audit entry this view wrote (texts shown), or null. */
  auditId: string | null;
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const obj = (v: unknown): Record<string, unknown> =>
  v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** What the user wrote, from the stored DingTalk message (text, rich text, voice transcript). */
export function inboundText(payload: unknown): string {
  const p = obj(payload);
  const type = str(p.msgtype) ?? "unknown";
  if (type === "text") return (str(obj(p.text).content) ?? "").trim();
  const content = obj(p.content);
  if (type === "richText") {
    const parts = Array.isArray(content.richText) ? content.richText : [];
    const lines = parts.flatMap((s) => (str(obj(s).text)?.trim() ? [str(obj(s).text)!.trim()] : []));
    return lines.length > 0 ? lines.join("\n") : "[rich text without text]";
  }
  if (type === "audio") return str(content.recognition)?.trim() || "[voice message]";
  return `[${type} message]`;
}

/** What the robot sent: a text's content, a markdown's text, or the message type. */
export function outboundText(payload: unknown): string {
  const p = obj(payload);
  const type = str(p.msgtype) ?? "unknown";
  return (
    str(obj(p.text).content) ??
    str(obj(p.markdown).text) ??
    str(obj(p.sampleText).content) ??
    str(obj(p.sampleMarkdown).text) ??
    `[${type} message]`
  );
}

function outcomeWhere(
  conversationId: string,
  outcome: LogOutcome | undefined,
  skill: string | undefined,
): Prisma.InboundMessageWhereInput {
  // The conversation inside the subquery too, so it reads the (conversationId, createdAt) index
  // instead of every call to the skill.
  const calls = (o?: Prisma.EnumInvocationOutcomeFilter): Prisma.InboundMessageWhereInput => ({
    invocations: {
      some: { conversationId, ...(skill ? { skillKey: skill } : {}), ...(o ? { outcome: o } : {}) },
    },
  });
  switch (outcome) {
    case undefined:
      return skill ? calls() : {};
    case "replied":
      return { status: "REPLIED", ...(skill ? calls() : {}) };
    case "denied":
      return { status: "DENIED", ...(skill ? calls() : {}) };
    case "failed":
      return { status: "FAILED", ...(skill ? calls() : {}) };
    case "in_progress":
      return { status: { in: ["RECEIVED", "PROCESSING"] }, ...(skill ? calls() : {}) };
    case "skill_ran":
      return calls({ equals: "SUCCESS" });
    case "skill_denied":
      return calls({ equals: "DENIED" });
    case "skill_waiting":
      return calls({ equals: "PENDING_APPROVAL" });
    case "skill_failed":
      return calls({ in: ["ERROR", "TIMEOUT"] });
  }
}

/**
 * One page of a conversation's log for a viewer. Texts only when the viewer's role is allowed,
 * and then audited (one entry per page view) before they are returned.
 */
export async function conversationLog(
  db: Db,
  viewer: LogViewer,
  input: ConversationLogInput,
): Promise<ConversationLog> {
  const q = parseInput(conversationLogSchema, input);
  const conversation = await db.conversation.findUnique({
    where: { id: q.id },
    select: { id: true, conversationId: true, title: true, type: true, status: true },
  });
  if (!conversation) throw new DomainError("NOT_FOUND", "No such conversation.");
  const textRoles = await logTextRoles(db);
  const textShown = textRoles.includes(viewer.role);

  let cursor: { at: Date; id: string } | undefined;
  if (q.cursor) {
    const [ms, id] = q.cursor.split(":") as [string, string];
    cursor = { at: new Date(Number(ms)), id };
  }
  const receivedAt: Prisma.DateTimeFilter = {
    ...(q.from ? { gte: q.from } : {}),
    ...(q.to ? { lte: q.to } : {}),
  };
  // The cursor bound is also a plain range on receivedAt, so the (conversationId, receivedAt)
  // index answers it; the OR breaks ties between rows received in the same millisecond.
  if (cursor && (!receivedAt.lte || (receivedAt.lte as Date) > cursor.at)) receivedAt.lte = cursor.at;
  const where: Prisma.InboundMessageWhereInput = {
    conversationId: conversation.conversationId,
    ...(Object.keys(receivedAt).length > 0 ? { receivedAt } : {}),
    ...(cursor ? { OR: [{ receivedAt: { lt: cursor.at } }, { receivedAt: cursor.at, id: { lt: cursor.id } }] } : {}),
    ...(q.user ? { senderId: q.user } : {}),
    ...(q.traceId ? { traceId: q.traceId } : {}),
    ...outcomeWhere(conversation.conversationId, q.outcome, q.skill),
  };

  const rows = await db.inboundMessage.findMany({
    where,
    orderBy: [{ receivedAt: "desc" }, { id: "desc" }],
    take: q.limit + 1,
    select: {
      id: true,
      receivedAt: true,
      processedAt: true,
      senderId: true,
      channel: true,
      msgType: true,
      status: true,
      error: true,
      traceId: true,
      model: true,
      configRevision: true,
      modelCalls: true,
      promptTokens: true,
      completionTokens: true,
      // The text is read only for a role that may see it.
      payload: textShown,
      outbound: {
        orderBy: { createdAt: "asc" },
        select: { id: true, channel: true, status: true, createdAt: true, sentAt: true, payload: textShown },
      },
      invocations: {
        orderBy: { createdAt: "asc" },
        select: {
          id: true,
          skillKey: true,
          decision: true,
          outcome: true,
          reasons: true,
          latencyMs: true,
          promptTokens: true,
          completionTokens: true,
          configRevision: true,
          approvalRequest: { select: { id: true, status: true } },
        },
      },
    },
  });
  const page = rows.slice(0, q.limit);
  const items: LogMessage[] = page.map((r) => {
    const payload = "payload" in r ? r.payload : undefined;
    return {
      id: r.id,
      receivedAt: r.receivedAt,
      processedAt: r.processedAt,
      latencyMs: r.processedAt ? r.processedAt.getTime() - r.receivedAt.getTime() : null,
      senderId: r.senderId,
      channel: r.channel,
      msgType: r.msgType,
      status: r.status,
      error: r.error,
      traceId: r.traceId,
      model: r.model,
      configRevision: r.configRevision,
      modelCalls: r.modelCalls,
      promptTokens: r.promptTokens,
      completionTokens: r.completionTokens,
      text: textShown ? inboundText(payload) : null,
      senderName: textShown ? str(obj(payload).senderNick) : null,
      replies: r.outbound.map((o) => ({
        id: o.id,
        channel: o.channel,
        status: o.status,
        createdAt: o.createdAt,
        sentAt: o.sentAt,
        text: textShown ? outboundText("payload" in o ? o.payload : undefined) : null,
      })),
      skills: r.invocations.map((i) => ({
        id: i.id,
        skillKey: i.skillKey,
        decision: i.decision,
        outcome: i.outcome,
        reasons: i.reasons,
        latencyMs: i.latencyMs,
        promptTokens: i.promptTokens,
        completionTokens: i.completionTokens,
        configRevision: i.configRevision,
        approval: i.approvalRequest,
      })),
    };
  });
  const last = page.at(-1);
  const nextCursor = rows.length > q.limit && last ? `${last.receivedAt.getTime()}:${last.id}` : null;

  let auditId: string | null = null;
  if (textShown && items.length > 0) {
    const filters: Record<string, string> = {};
    for (const k of ["user", "skill", "outcome", "traceId", "cursor"] as const) if (q[k]) filters[k] = q[k];
    if (q.from) filters.from = q.from.toISOString();
    if (q.to) filters.to = q.to.toISOString();
    const entry = await db.$transaction((tx) =>
      appendAudit(tx, {
        actor: viewer.actor,
        action: "conversation.log_view",
        targetType: "conversation",
        targetId: conversation.conversationId,
        diff: {
          conversationId: conversation.conversationId,
          messageIds: items.map((i) => i.id),
          ...(Object.keys(filters).length > 0 ? { filters } : {}),
        },
        traceId: viewer.traceId ?? null,
      }),
    );
    auditId = entry.id.toString();
  }
  return { conversation, textShown, textRoles, items, nextCursor, auditId };
}

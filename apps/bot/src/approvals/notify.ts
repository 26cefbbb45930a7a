/**
 * The `approval.notify` job: shows a request to the approvers' DingTalk chats and keeps what they
 * see current. Only when the flag `approvals.dingtalk_cards` is on and the onboard file's
 * `approvals.approver_chats` names chats; otherwise approvers use the console alone.
 *
 * - With `approvals.card_template_id`: one interactive card per request (`outTrackId` = the
 *   request id) created in the first approver chat and delivered to the others; every later run
 *   (a vote, the decision, the execution, expiry) updates it for everyone (`PUT /v1.0/card/instances`).
 * - Without a template: a markdown message with a link to the console, once.
 * - `{ escalate: true }`: the same card delivered (or the markdown sent) to `escalation_chat`.
 *
 * The first announcement is claimed (`cardSentAt`) before it is sent and released when the send
 * fails, so a retried or duplicated job does not announce twice. Card updates are idempotent.
 */
import {
  APPROVAL_CARDS_FLAG,
  APPROVAL_NOTIFY_TASK,
  loadApprovalSettings,
  type ApprovalSettings,
} from "@clawgate/core/approvals.ts";
import { redactInput } from "@clawgate/core/redact.ts";
import type { ApprovalRequest, Db } from "@clawgate/db";
import {
  createAndDeliverCard,
  deliverCard,
  markdownReply,
  updateCard,
  type CardCallbackRoute,
  type CardParams,
  type DingTalkOpenApi,
} from "@clawgate/dingtalk";
import type { JobHelpers, Task } from "graphile-worker";
import { z } from "zod";
import type { Logger } from "../logger.ts";

export { APPROVAL_NOTIFY_TASK };

export interface NotifyDeps {
  db: Db;
  /** The app's OpenAPI client; undefined without DingTalk app credentials (nothing is sent then). */
  openApi: DingTalkOpenApi | undefined;
  robotCode: string | undefined;
  /** How card clicks come back: Stream, or HTTP under the registered route key. */
  callback: CardCallbackRoute;
  /** The console's base URL for links (CLAWGATE_CONSOLE_URL). */
  consoleUrl?: string | undefined;
  logger: Logger;
}

const payloadSchema = z.object({ approvalId: z.string().min(1), escalate: z.boolean().optional() });

type Request = ApprovalRequest & {
  decisions: { approve: boolean; deciderName: string; channel: string }[];
};

const MAX_ARGS = 1_500;

/** What the card shows: skill, risk, who asked where, the (redacted) arguments, and where it stands. */
export function cardParams(a: Request, consoleUrl?: string): CardParams {
  const approvals = a.decisions.filter((d) => d.approve);
  const names = (list: { deciderName: string }[]) => list.map((d) => d.deciderName).join(", ");
  const rejected = a.decisions.find((d) => !d.approve);
  const args = JSON.stringify(redactInput(a.input), null, 2);
  const status: Record<ApprovalRequest["status"], string> = {
    PENDING:
      approvals.length > 0
        ? `Waiting: ${approvals.length} of ${a.requiredApprovals} approvals (${names(approvals)})`
        : `Waiting for ${a.requiredApprovals === 1 ? "an approver" : `${a.requiredApprovals} approvers`}`,
    APPROVED: `Approved by ${names(approvals)}; running`,
    EXECUTED: `Approved by ${names(approvals)}; executed`,
    FAILED: `Approved by ${names(approvals)}; failed`,
    INVALIDATED: `Approved by ${names(approvals)}; not run (the policy or the request changed)`,
    REJECTED: `Rejected by ${rejected?.deciderName ?? "an approver"}${a.decisionNote ? `: ${a.decisionNote}` : ""}`,
    EXPIRED: "Expired without a decision",
  };
  return {
    title: `Approval: ${a.skillKey}`,
    skill: a.skillKey,
    risk: a.riskClass,
    requester:
      a.requesterName && a.requesterName !== a.requesterId ? `${a.requesterName} (${a.requesterId})` : a.requesterId,
    conversation: a.conversationTitle ?? a.conversationId,
    arguments: args.length > MAX_ARGS ? `${args.slice(0, MAX_ARGS - 1)}…` : args,
    reason: a.reason ?? "",
    status: a.status,
    statusText: status[a.status],
    approvals: `${approvals.length} of ${a.requiredApprovals}`,
    // The buttons are shown while a decision can still be made from the card.
    decidable: a.status === "PENDING" && a.riskClass !== "DESTRUCTIVE" ? "true" : "false",
    consoleUrl: consoleLink(a.id, consoleUrl),
    expiresAt: a.expiresAt.toISOString(),
  };
}

const consoleLink = (id: string, base?: string) =>
  base ? `${base.replace(/\/+$/, "")}/approvals?request=${encodeURIComponent(id)}` : "";

/** The markdown fallback (no card template): the request and a console link. */
export function approvalMarkdown(a: Request, consoleUrl?: string, escalated = false): { title: string; text: string } {
  const p = cardParams(a, consoleUrl);
  const link = p.consoleUrl
    ? `[Decide in the console](${p.consoleUrl})`
    : "Decide on the Approvals page of the Clawgate console.";
  const lines = [
    `### ${escalated ? "Still waiting: " : ""}approval needed for ${a.skillKey} (${a.riskClass})`,
    `- Requested by **${p.requester}** in **${p.conversation}**`,
    ...(a.reason ? [`- Why: ${a.reason}`] : []),
    `- ${p.statusText}; expires ${p.expiresAt}`,
    "",
    "```json",
    p.arguments!,
    "```",
    "",
    link,
  ];
  return { title: p.title!, text: lines.join("\n") };
}

async function flagOn(db: Db): Promise<boolean> {
  const flag = await db.featureFlag.findUnique({ where: { key: APPROVAL_CARDS_FLAG }, select: { enabled: true } });
  return flag?.enabled === true;
}

async function announce(deps: NotifyDeps, a: Request, settings: ApprovalSettings, log: Logger): Promise<void> {
  const [first, ...others] = settings.approverChats;
  if (!first) return;
  // Claimed before sending: a second job finds it taken.
  const claimed = await deps.db.approvalRequest.updateMany({
    where: { id: a.id, cardSentAt: null },
    data: { cardSentAt: new Date(), cardState: `${a.status}:${a.decisions.length}` },
  });
  if (claimed.count === 0) return;
  try {
    const robotCode = deps.robotCode!;
    if (settings.cardTemplateId) {
      await createAndDeliverCard(deps.openApi!, {
        templateId: settings.cardTemplateId,
        outTrackId: a.id,
        params: cardParams(a, deps.consoleUrl),
        to: { robotCode, openConversationId: first },
        callback: deps.callback,
      });
      for (const chat of others)
        await deliverCard(deps.openApi!, { outTrackId: a.id, to: { robotCode, openConversationId: chat } });
    } else {
      const md = approvalMarkdown(a, deps.consoleUrl);
      for (const chat of settings.approverChats)
        await deps.openApi!.sendToGroup({
          robotCode,
          openConversationId: chat,
          message: markdownReply(md.title, md.text),
        });
    }
    log.info({ chats: settings.approverChats.length, card: Boolean(settings.cardTemplateId) }, "approval announced");
  } catch (error) {
    await deps.db.approvalRequest.update({ where: { id: a.id }, data: { cardSentAt: null, cardState: null } });
    throw error;
  }
}

async function escalate(deps: NotifyDeps, a: Request, settings: ApprovalSettings, log: Logger): Promise<void> {
  const chat = settings.escalationChat;
  if (!chat || a.status !== "PENDING") return;
  const robotCode = deps.robotCode!;
  if (settings.cardTemplateId && a.cardSentAt) {
    await deliverCard(deps.openApi!, { outTrackId: a.id, to: { robotCode, openConversationId: chat } });
  } else {
    const md = approvalMarkdown(a, deps.consoleUrl, true);
    await deps.openApi!.sendToGroup({ robotCode, openConversationId: chat, message: markdownReply(md.title, md.text) });
  }
  log.info("approval escalated");
}

/** Brings the card in line with the request (once per state and vote count). */
async function refresh(deps: NotifyDeps, a: Request, log: Logger): Promise<void> {
  const params = cardParams(a, deps.consoleUrl);
  const state = `${a.status}:${a.decisions.length}`;
  if (a.cardState === state) return;
  await updateCard(deps.openApi!, { outTrackId: a.id, params });
  await deps.db.approvalRequest.update({ where: { id: a.id }, data: { cardState: state } });
  log.info({ status: a.status }, "approval card updated");
}

export async function notifyApproval(deps: NotifyDeps, approvalId: string, escalated = false): Promise<void> {
  const log = deps.logger.child({ approvalId });
  if (!deps.openApi || !deps.robotCode) return;
  if (!(await flagOn(deps.db))) return;
  const a = await deps.db.approvalRequest.findUnique({
    where: { id: approvalId },
    include: {
      decisions: { orderBy: { createdAt: "asc" }, select: { approve: true, deciderName: true, channel: true } },
    },
  });
  if (!a) return;
  const settings = await loadApprovalSettings(deps.db);
  if (escalated) return escalate(deps, a, settings, log);
  if (!a.cardSentAt) {
    // Announced once, while still open: a request decided in the console before the first send needs no card.
    if (a.status === "PENDING") await announce(deps, a, settings, log);
    return;
  }
  if (settings.cardTemplateId) await refresh(deps, a, log);
}

export function createApprovalNotifier(deps: NotifyDeps): Task {
  return async (raw: unknown, helpers: JobHelpers) => {
    const payload = payloadSchema.safeParse(raw);
    if (!payload.success) {
      deps.logger.warn({ jobId: helpers.job.id }, "approval notify job with an invalid payload; dropped");
      return;
    }
    await notifyApproval(deps, payload.data.approvalId, payload.data.escalate === true);
  };
}

/**
 * Every audit action, in one union: `appendAudit` and `recordConfigChange` take only these, so a
 * misspelt or unknown action does not compile. Each action's diff is checked at write time: every
 * diff is a JSON object (or none); the main actions have their own shape. A diff that does not
 * match refuses the write (and so the change it records: both are in one transaction).
 */
import { z } from "zod";
import { DomainError } from "./errors.ts";

export const AUDIT_ACTIONS = [
  // approvals
  "approval.request",
  "approval.vote",
  "approval.approve",
  "approval.reject",
  "approval.expire",
  "approval.escalate",
  "approval.invalidate",
  // sign-ins and refusals
  "auth.sign_in",
  "auth.refused",
  "auth.break_glass.issue",
  // the audit log itself, retention, encryption keys
  "audit.export",
  "retention.update",
  "retention.purge",
  "data_keys.rotate_start",
  "data_keys.rotate",
  // budgets and limits
  "budget.create",
  "budget.update",
  "budget.delete",
  "budget.exhausted",
  // configuration as code, bootstrap, demo seed
  "config.onboard",
  "system.bootstrap",
  "seed.demo",
  // conversations
  "conversation.update",
  "conversation.backlog_capped",
  "conversation.log_view",
  "conversation.log_settings",
  // dead letters
  "dead_letter.retry",
  // feature flags
  "flag.create",
  "flag.update",
  // incidents
  "incident.open",
  "incident.join",
  "incident.review",
  // outside tools
  "mcp.sync",
  "mcp_server.create",
  "mcp_server.update",
  "mcp_server.refresh",
  "tool.enable",
  "tool.approve_change",
  "tool.output",
  // messages the robot sent on someone's behalf
  "message.send",
  "message.announce",
  // models and routes
  "model.create",
  "model.update",
  "model.delete",
  "route.set",
  "route.delete",
  // safe mode
  "safe_mode.on",
  "safe_mode.off",
  "safe_mode.update",
  "safe_mode.expire",
  "kill_switch.on",
  "kill_switch.off",
  // skills
  "skill.update",
  "skill.settings.update",
  "skill.rule.add",
  "skill.rule.remove",
  // console users
  "user.add",
  "user.role",
  "user.enable",
  "user.disable",
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

const ACTION_SET: ReadonlySet<string> = new Set(AUDIT_ACTIONS);
export const isAuditAction = (s: string): s is AuditAction => ACTION_SET.has(s);

/** Any JSON object: every diff is one (or none). */
const jsonObject = z.record(z.string(), z.unknown());

/** core/diff.ts's FieldDiff: per field, from -> to, or "changed" for a secret. */
const fieldDiff = z.record(
  z.string(),
  z.union([z.strictObject({ from: z.unknown(), to: z.unknown() }), z.strictObject({ changed: z.literal(true) })]),
);

const approvalVote = z.object({
  skillKey: z.string(),
  channel: z.enum(["CONSOLE", "CARD"]),
  approvals: z.object({ count: z.number().int().min(0), required: z.number().int().min(1) }),
  note: z.enum(["set", "none"]),
});

/** The audit filters an export or a view ran with (values as given, dates as ISO text). */
const filters = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]));

const ROLE = z.enum(["ADMIN", "APPROVER", "OPERATOR", "VIEWER"]);

/** Shapes of the main actions' diffs (others: any JSON object). */
export const AUDIT_DIFF_SCHEMAS: Partial<Record<AuditAction, z.ZodType>> = {
  "approval.request": z.object({
    skillKey: z.string(),
    riskClass: z.enum(["READ", "WRITE", "DESTRUCTIVE"]),
    requiredApprovals: z.number().int().min(1),
    reason: z.string().optional(),
  }),
  "approval.vote": approvalVote,
  "approval.approve": approvalVote,
  "approval.reject": approvalVote,
  "audit.export": z.strictObject({ format: z.enum(["csv", "json"]), filters }),
  "conversation.log_view": z.strictObject({
    conversationId: z.string().min(1),
    messageIds: z.array(z.string().min(1)).max(200),
    filters: filters.optional(),
  }),
  "conversation.log_settings": z.strictObject({
    textRoles: z.strictObject({ from: z.array(ROLE), to: z.array(ROLE) }),
  }),
  "conversation.update": fieldDiff,
  "flag.update": fieldDiff,
  "model.create": fieldDiff,
  "model.update": fieldDiff,
  "model.delete": fieldDiff,
  "budget.create": fieldDiff,
  "budget.update": fieldDiff,
  "budget.delete": fieldDiff,
  "skill.update": fieldDiff,
  "skill.settings.update": fieldDiff,
  "skill.rule.add": fieldDiff,
  "skill.rule.remove": fieldDiff,
  "safe_mode.on": z.object({ reason: z.string() }),
  "safe_mode.off": z.object({ reason: z.string() }),
};

/**
 * Checks an entry's action and diff before it is written: an unknown action (from untyped
 * code) or a diff of the wrong shape refuses the write with BAD_REQUEST.
 */
export function checkAuditEntry(action: string, diff: unknown): void {
  if (!isAuditAction(action)) {
    throw new DomainError("BAD_REQUEST", `Unknown audit action "${action}".`, { reason: "unknown_audit_action" });
  }
  if (diff === null || diff === undefined) return;
  const generic = jsonObject.safeParse(diff);
  const specific = generic.success ? (AUDIT_DIFF_SCHEMAS[action]?.safeParse(diff) ?? generic) : generic;
  if (!specific.success) {
    throw new DomainError("BAD_REQUEST", `The audit diff of "${action}" does not have its shape.`, {
      reason: "bad_audit_diff",
      problems: specific.error.issues.map((i) => `${i.path.join(".") || "diff"}: ${i.message}`),
    });
  }
}

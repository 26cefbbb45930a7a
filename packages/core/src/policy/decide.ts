/**
 * The policy decision: pure, synchronous, reads only the in-memory snapshot.
 *
 * Semantics (every applicable reason is collected, so the console can explain "why"):
 * - Fail closed: an unknown, PENDING or DISABLED conversation is denied; so is an unknown skill.
 * - Safe mode (each activation unless expired at `context.now`; the strictest that matches wins): an
 *   activation of scope "everything" or naming the conversation at MAINTENANCE denies everything
 *   there, messages included, with the fixed status message; at READ_ONLY only READ skills run
 *   (messages still get a turn). An activation naming skills or risk classes withdraws the matching
 *   skills (`safe_mode.withdrawn`), in its conversations or everywhere. The kill switch withdraws
 *   every WRITE and DESTRUCTIVE skill (`kill_switch`).
 * - Budget exhausted denies both kinds of request.
 * - Skill requests: the flag `agent.tools` off (or missing) denies every skill; a disabled skill, or
 *   one whose environments exclude the conversation's environment, is denied; a skill naming
 *   `settings.requiresFlag` is denied while that flag is off or unknown.
 * - Rules: GLOBAL, CONVERSATION and USER; DENY at any scope wins over any ALLOW. An ALLOW at
 *   CONVERSATION scope turns the skill into an allowlist of conversations (others get
 *   `rule.not_allowlisted.conversation`); the same holds at USER scope. A GLOBAL ALLOW is explicit
 *   but changes nothing.
 * - An outside tool (MCP, HTTP) never approved by an admin, or changed on its server since, is
 *   denied (`skill.withdrawn`).
 * - Otherwise allowed, except that WRITE skills with `requiresApproval` and every DESTRUCTIVE skill
 *   come back `needs_approval`, and so does every WRITE/DESTRUCTIVE call once the turn has read
 *   untrusted content (`context.untrustedRead`). Reasons of an allow are empty.
 */
import {
  conversationSafeMode,
  skillWithdrawal,
  type PolicyEnvironment,
  type PolicySnapshot,
  type SkillPolicy,
} from "./snapshot.ts";

export const REASON_CODES = [
  "conversation.unknown",
  "conversation.pending",
  "conversation.disabled",
  "safe_mode.maintenance",
  "safe_mode.read_only",
  "safe_mode.withdrawn",
  "kill_switch",
  "skill.unknown",
  "skill.disabled",
  "skill.environment",
  "rule.deny.global",
  "rule.deny.conversation",
  "rule.deny.user",
  "rule.not_allowlisted.conversation",
  "rule.not_allowlisted.user",
  "flag.off",
  "budget.exhausted",
  "skill.withdrawn",
  "approval.required",
  "approval.untrusted_content",
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

export interface PolicyReason {
  code: ReasonCode;
  /** One sentence for the reply: what happened and, where there is one, what to do. */
  detail: string;
}

export type PolicyOutcome = "allow" | "deny" | "needs_approval";

export interface PolicyDecision {
  outcome: PolicyOutcome;
  reasons: readonly PolicyReason[];
}

export interface PolicyContext {
  conversationId: string;
  userId: string;
  now: Date | number;
  budget?: { exhausted: boolean; scope?: string };
  /**
   * Untrusted outputs the turn has read so far (skill keys, in order): a WRITE or DESTRUCTIVE
   * call after them needs an approver's grant even where the skill runs without one.
   */
  untrustedRead?: readonly string[];
}

export type PolicyRequest = { kind: "message" } | { kind: "skill"; skillKey: string };

export const TOOLS_FLAG = "agent.tools";
export const DEFAULT_MAINTENANCE_MESSAGE = "The robot is down for maintenance. Please try again later.";

const ALLOW: PolicyDecision = Object.freeze({ outcome: "allow", reasons: Object.freeze([]) });

export function decide(snapshot: PolicySnapshot, context: PolicyContext, request: PolicyRequest): PolicyDecision {
  const reasons: PolicyReason[] = [];
  const conversation = snapshot.conversations.get(context.conversationId);
  if (!conversation) {
    reasons.push({
      code: "conversation.unknown",
      detail: "This conversation is not known to the robot yet: an admin can enable it in the console.",
    });
  } else if (conversation.status === "PENDING") {
    reasons.push({
      code: "conversation.pending",
      detail: "This conversation is not enabled yet: an admin can enable it in the console, where it shows as pending.",
    });
  } else if (conversation.status === "DISABLED") {
    reasons.push({ code: "conversation.disabled", detail: "The robot is disabled in this conversation by an admin." });
  }

  const safeMode = conversationSafeMode(snapshot.safeMode, context.now, context.conversationId);
  if (safeMode?.level === "MAINTENANCE") {
    reasons.push({ code: "safe_mode.maintenance", detail: safeMode.message ?? DEFAULT_MAINTENANCE_MESSAGE });
  }
  if (context.budget?.exhausted) {
    const scope = context.budget.scope ? ` (${context.budget.scope})` : "";
    reasons.push({
      code: "budget.exhausted",
      detail: `The token budget${scope} is used up; it resets with its window, or an admin can raise it.`,
    });
  }
  if (request.kind === "message") return reasons.length === 0 ? ALLOW : { outcome: "deny", reasons };

  if (snapshot.flags.get(TOOLS_FLAG) !== true) {
    reasons.push({ code: "flag.off", detail: `Skills are switched off (flag "${TOOLS_FLAG}").` });
  }
  const skill = snapshot.skills.get(request.skillKey);
  if (!skill) {
    reasons.push({ code: "skill.unknown", detail: `There is no skill "${request.skillKey}".` });
    return { outcome: "deny", reasons };
  }
  if (safeMode?.level === "READ_ONLY" && skill.riskClass !== "READ") {
    reasons.push({
      code: "safe_mode.read_only",
      detail: safeMode.message ?? "Safe mode is on: only read-only skills run for now.",
    });
  }
  const withdrawal = skillWithdrawal(snapshot.safeMode, context.now, skill, context.conversationId);
  if (withdrawal?.kind === "KILL_SWITCH") {
    reasons.push({
      code: "kill_switch",
      detail: withdrawal.message ?? "The kill switch is on: no skill that writes or deletes runs for now.",
    });
  } else if (withdrawal) {
    reasons.push({
      code: "safe_mode.withdrawn",
      detail: withdrawal.message ?? `Safe mode is on: "${skill.key}" is withdrawn for now.`,
    });
  }
  skillReasons(snapshot, skill, context, conversation?.environment, reasons);
  if (reasons.length > 0) return { outcome: "deny", reasons };
  const approval: PolicyReason[] = [];
  if (skill.riskClass === "DESTRUCTIVE" || (skill.riskClass === "WRITE" && skill.requiresApproval)) {
    approval.push({ code: "approval.required", detail: `"${skill.key}" needs an approver's grant before it runs.` });
  }
  const tainted = context.untrustedRead ?? [];
  if (skill.riskClass !== "READ" && tainted.length > 0) {
    const sources = [...new Set(tainted)].join(", ");
    approval.push({
      code: "approval.untrusted_content",
      detail: `"${skill.key}" waits for an approver's grant: this turn has read untrusted content (${sources}), which may carry instructions the user never gave.`,
    });
  }
  return approval.length > 0 ? { outcome: "needs_approval", reasons: approval } : ALLOW;
}

/** Reasons that refuse every message of the conversation (the reply says so), not only skills. */
export const MESSAGE_REASONS: ReadonlySet<ReasonCode> = new Set([
  "conversation.unknown",
  "conversation.pending",
  "conversation.disabled",
  "safe_mode.maintenance",
  "budget.exhausted",
]);

/** Refusals by safe mode or the kill switch alone: the skill is still offered, the call refused with the notice. */
export const SAFE_MODE_REFUSALS: ReadonlySet<ReasonCode> = new Set([
  "safe_mode.read_only",
  "safe_mode.withdrawn",
  "kill_switch",
]);

/**
 * Whether a turn offers the skill to the model, given `decide`'s answer for it: what is allowed
 * or sent for approval, and what only safe mode (or the kill switch) refuses (so a user asking for a write
 * during an incident hears that safe mode is on, instead of a model that does not know the
 * action exists). The runtime's tool list and the console's "why?" check both ask this.
 */
export function offeredToModel(decision: PolicyDecision): boolean {
  return decision.outcome !== "deny" || decision.reasons.every((r) => SAFE_MODE_REFUSALS.has(r.code));
}

function skillReasons(
  snapshot: PolicySnapshot,
  skill: SkillPolicy,
  context: PolicyContext,
  environment: PolicyEnvironment | undefined,
  reasons: PolicyReason[],
): void {
  if (!skill.enabled) reasons.push({ code: "skill.disabled", detail: `The skill "${skill.key}" is disabled.` });
  if (skill.withdrawn === "unapproved") {
    reasons.push({
      code: "skill.withdrawn",
      detail: `The tool "${skill.key}" has not been approved by an admin yet (Tool sources in the console).`,
    });
  } else if (skill.withdrawn === "changed") {
    reasons.push({
      code: "skill.withdrawn",
      detail: `The tool "${skill.key}" is withdrawn: its server now describes it differently from what an admin approved; an admin must review the change.`,
    });
  }
  if (environment !== undefined && !skill.environments.has(environment)) {
    reasons.push({
      code: "skill.environment",
      detail: `The skill "${skill.key}" is not rolled out to ${environment} conversations yet.`,
    });
  }
  if (skill.requiresFlag !== null && snapshot.flags.get(skill.requiresFlag) !== true) {
    reasons.push({
      code: "flag.off",
      detail: `The skill "${skill.key}" needs the flag "${skill.requiresFlag}", which is off.`,
    });
  }
  if (skill.globalEffect === "DENY") {
    reasons.push({ code: "rule.deny.global", detail: `The skill "${skill.key}" is denied everywhere by a rule.` });
  }
  const byConversation = skill.conversationRules.effects.get(context.conversationId);
  if (byConversation === "DENY") {
    reasons.push({
      code: "rule.deny.conversation",
      detail: `The skill "${skill.key}" is denied in this conversation by a rule.`,
    });
  } else if (byConversation === undefined && skill.conversationRules.hasAllow) {
    reasons.push({
      code: "rule.not_allowlisted.conversation",
      detail: `The skill "${skill.key}" is only allowed in listed conversations; an admin can add this one.`,
    });
  }
  const byUser = skill.userRules.effects.get(context.userId);
  if (byUser === "DENY") {
    reasons.push({ code: "rule.deny.user", detail: `The skill "${skill.key}" is denied for you by a rule.` });
  } else if (byUser === undefined && skill.userRules.hasAllow) {
    reasons.push({
      code: "rule.not_allowlisted.user",
      detail: `The skill "${skill.key}" is only allowed for listed users; an admin can add you.`,
    });
  }
}

/**
 * The message gate: `decide` on the in-memory snapshot (no database read), and for a refusal
 * the one reply the user sees, saying why and what to do. The robot is never silent.
 */
import { decide, type PolicyDecision, type PolicySnapshot, type ReasonCode } from "@clawgate/core";
import type { RobotMessage } from "@clawgate/dingtalk";

export const NOT_ENABLED_REPLY =
  "This conversation is not enabled for the robot yet. An admin can enable it in the Clawgate console (Conversations), where it now shows as pending.";
export const DISABLED_REPLY = "The robot has been disabled in this conversation by an admin.";

export interface Gate {
  decision: PolicyDecision;
  /** The reason the reply is about (also the metric label): "none" for an allow. */
  primary: ReasonCode | "none";
  /** The refusal text; undefined when the message is allowed. */
  refusal?: string;
}

// Maintenance first: it concerns every conversation and says when to come back.
const PRIORITY: readonly ReasonCode[] = [
  "safe_mode.maintenance",
  "conversation.disabled",
  "conversation.pending",
  "conversation.unknown",
  "budget.exhausted",
];

export function gateMessage(snapshot: PolicySnapshot, msg: RobotMessage, now: Date | number): Gate {
  const decision = decide(
    snapshot,
    { conversationId: msg.conversationId, userId: msg.senderStaffId || msg.senderId, now },
    { kind: "message" },
  );
  if (decision.outcome === "allow") return { decision, primary: "none" };
  const reason =
    PRIORITY.map((code) => decision.reasons.find((r) => r.code === code)).find((r) => r !== undefined) ??
    decision.reasons[0];
  if (!reason) return { decision, primary: "none", refusal: NOT_ENABLED_REPLY };
  // A conversation the worker has just stored as PENDING is not in the snapshot until the next
  // config change reloads it: to the user, "unknown" and "pending" are the same state.
  const refusal =
    reason.code === "conversation.pending" || reason.code === "conversation.unknown"
      ? NOT_ENABLED_REPLY
      : reason.code === "conversation.disabled"
        ? DISABLED_REPLY
        : reason.detail;
  return { decision, primary: reason.code, refusal };
}

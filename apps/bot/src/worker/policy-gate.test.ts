import { DEFAULT_MAINTENANCE_MESSAGE, policyFixture } from "@clawgate/core";
import { robotMessageSchema } from "@clawgate/dingtalk";
import { describe, expect, it } from "vitest";
import { DISABLED_REPLY, gateMessage, NOT_ENABLED_REPLY } from "./policy-gate.ts";

const msg = (conversationId: string) =>
  robotMessageSchema.parse({
    msgId: "m",
    createAt: 1,
    conversationType: "2",
    conversationId,
    senderId: "s",
    msgtype: "text",
    text: { content: "hi" },
  });
const now = new Date("2026-01-01T00:00:00Z");

describe("gateMessage", () => {
  it("allows an enabled conversation with no refusal", () => {
    const gate = gateMessage(policyFixture().conversation("c").build(), msg("c"), now);
    expect(gate).toMatchObject({ decision: { outcome: "allow" }, primary: "none" });
    expect(gate.refusal).toBeUndefined();
  });

  it("gives unknown and pending conversations the same 'not enabled, pending' reply", () => {
    const snapshot = policyFixture().conversation("p", { status: "PENDING" }).build();
    expect(gateMessage(snapshot, msg("new"), now)).toMatchObject({
      primary: "conversation.unknown",
      refusal: NOT_ENABLED_REPLY,
    });
    expect(gateMessage(snapshot, msg("p"), now)).toMatchObject({
      primary: "conversation.pending",
      refusal: NOT_ENABLED_REPLY,
    });
    expect(NOT_ENABLED_REPLY).toContain("console");
  });

  it("tells a disabled conversation an admin disabled it", () => {
    const gate = gateMessage(policyFixture().conversation("d", { status: "DISABLED" }).build(), msg("d"), now);
    expect(gate).toMatchObject({
      decision: { outcome: "deny" },
      primary: "conversation.disabled",
      refusal: DISABLED_REPLY,
    });
  });

  it("answers maintenance with its message (or the default), ahead of the conversation's state", () => {
    const custom = policyFixture().conversation("c").safeMode("MAINTENANCE", { message: "Back at 10:00." }).build();
    expect(gateMessage(custom, msg("c"), now)).toMatchObject({
      primary: "safe_mode.maintenance",
      refusal: "Back at 10:00.",
    });
    const plain = policyFixture().safeMode("MAINTENANCE").build();
    expect(gateMessage(plain, msg("unknown"), now)).toMatchObject({
      primary: "safe_mode.maintenance",
      refusal: DEFAULT_MAINTENANCE_MESSAGE,
    });
  });

  it("lets messages through read-only safe mode and after maintenance expires", () => {
    expect(
      gateMessage(policyFixture().conversation("c").safeMode("READ_ONLY").build(), msg("c"), now).decision.outcome,
    ).toBe("allow");
    const expired = policyFixture()
      .conversation("c")
      .safeMode("MAINTENANCE", { expiresAt: new Date(now.getTime() - 1) })
      .build();
    expect(gateMessage(expired, msg("c"), now).decision.outcome).toBe("allow");
  });
});

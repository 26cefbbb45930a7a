import { PolicyFixture } from "@clawgate/core";
import { describe, expect, it } from "vitest";
import { offeredTools, skillKeyOf, toolName } from "./tools.ts";

const NOW = new Date("2026-01-01T00:00:00Z");
const base = () =>
  new PolicyFixture()
    .conversation("cid")
    .skill("kb.search")
    .skill("help")
    .skill("ticket.create", { riskClass: "WRITE", requiresApproval: true });

describe("offeredTools", () => {
  it("offers allowed skills and approval-gated writes, with JSON Schema from the zod input", () => {
    const { keys, tools } = offeredTools(base().build(), { conversationId: "cid", userId: "u", now: NOW });
    expect(keys).toEqual(["help", "kb.search", "ticket.create"]);
    const kb = tools.find((t) => t.type === "function" && t.function.name === "kb_search");
    expect(kb).toMatchObject({
      function: {
        parameters: {
          type: "object",
          required: ["query"],
          properties: { query: { type: "string" }, limit: { type: "integer" } },
        },
      },
    });
  });

  it("leaves out denied skills: a rule, tools switched off, unknown to the policy", () => {
    const ctx = { conversationId: "cid", userId: "u", now: NOW };
    expect(offeredTools(base().rule("kb.search", "CONVERSATION", "cid", "DENY").build(), ctx).keys).toEqual([
      "help",
      "ticket.create",
    ]);
    expect(offeredTools(base().flag("agent.tools", false).build(), ctx).keys).toEqual([]);
    expect(offeredTools(new PolicyFixture().conversation("cid").skill("help").build(), ctx).keys).toEqual(["help"]);
  });

  it("is computed per user: a USER deny or a user allowlist hides the skill from that user only", () => {
    const at = (userId: string) => ({ conversationId: "cid", userId, now: NOW });
    const denied = base().rule("kb.search", "USER", "u-mallory", "DENY").build();
    expect(offeredTools(denied, at("u-mallory")).keys).toEqual(["help", "ticket.create"]);
    expect(offeredTools(denied, at("u-alice")).keys).toEqual(["help", "kb.search", "ticket.create"]);
    const allowlist = base().rule("ticket.create", "USER", "u-alice", "ALLOW").build();
    expect(offeredTools(allowlist, at("u-alice")).keys).toEqual(["help", "kb.search", "ticket.create"]);
    expect(offeredTools(allowlist, at("u-bob")).keys).toEqual(["help", "kb.search"]);
  });

  it("keeps a write skill that only read-only safe mode refuses (the call is refused with its message), not one also denied otherwise", () => {
    const ctx = { conversationId: "cid", userId: "u", now: NOW };
    expect(offeredTools(base().safeMode("READ_ONLY").build(), ctx).keys).toEqual([
      "help",
      "kb.search",
      "ticket.create",
    ]);
    expect(
      offeredTools(base().safeMode("READ_ONLY").rule("ticket.create", "CONVERSATION", "cid", "DENY").build(), ctx).keys,
    ).toEqual(["help", "kb.search"]);
  });
});

describe("tool names", () => {
  it("map skill keys both ways; an unknown name stays as it is (and is denied as unknown)", () => {
    expect(toolName("ticket.create")).toBe("ticket_create");
    expect(skillKeyOf("ticket_create")).toBe("ticket.create");
    expect(skillKeyOf("rm_rf")).toBe("rm_rf");
  });
});

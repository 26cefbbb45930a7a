import { describe, expect, it } from "vitest";
import {
  decide,
  DEFAULT_MAINTENANCE_MESSAGE,
  type PolicyContext,
  type PolicyDecision,
  type PolicyRequest,
} from "./decide.ts";
import { policyFixture, type PolicyFixture } from "./fixture.ts";
import { activationsInForce, conversationSafeMode, effectiveSafeMode, nextSafeModeExpiry } from "./snapshot.ts";

const NOW = new Date("2026-06-01T12:00:00Z");
const CID = "cid-a";
const ctx = (over: Partial<PolicyContext> = {}): PolicyContext => ({
  conversationId: "cid-a",
  userId: "u-1",
  now: NOW,
  ...over,
});
const skill = (skillKey: string): PolicyRequest => ({ kind: "skill", skillKey });
const MESSAGE: PolicyRequest = { kind: "message" };

/** One enabled PROD conversation `cid-a` and one READ skill `kb.search`. */
const base = (): PolicyFixture => policyFixture().conversation("cid-a").skill("kb.search");
const codes = (d: PolicyDecision) => d.reasons.map((r) => r.code);

describe("decide: conversations fail closed", () => {
  it("allows a message and a READ skill in an enabled conversation, with no reasons", () => {
    const snap = base().build();
    expect(decide(snap, ctx(), MESSAGE)).toEqual({ outcome: "allow", reasons: [] });
    expect(decide(snap, ctx(), skill("kb.search"))).toEqual({ outcome: "allow", reasons: [] });
  });

  it.each([
    ["unknown", undefined, "conversation.unknown"],
    ["pending", "PENDING", "conversation.pending"],
    ["disabled", "DISABLED", "conversation.disabled"],
  ] as const)("denies a %s conversation for messages and skills", (_name, status, code) => {
    const f = base();
    if (status) f.conversation("cid-b", { status });
    const snap = f.build();
    for (const req of [MESSAGE, skill("kb.search")]) {
      const d = decide(snap, ctx({ conversationId: "cid-b" }), req);
      expect(d.outcome).toBe("deny");
      expect(codes(d)).toEqual([code]);
    }
  });

  it("tells a pending conversation that an admin can enable it in the console", () => {
    const snap = base().conversation("cid-p", { status: "PENDING" }).build();
    expect(decide(snap, ctx({ conversationId: "cid-p" }), MESSAGE).reasons[0]?.detail).toMatch(
      /admin can enable it in the console/,
    );
  });
});

describe("decide: safe mode", () => {
  it("MAINTENANCE denies messages and every skill with the fixed status message", () => {
    const snap = base().safeMode("MAINTENANCE", { message: "Upgrading the model, back at 14:00." }).build();
    for (const req of [MESSAGE, skill("kb.search")]) {
      const d = decide(snap, ctx(), req);
      expect(d.outcome).toBe("deny");
      expect(d.reasons).toContainEqual({
        code: "safe_mode.maintenance",
        detail: "Upgrading the model, back at 14:00.",
      });
    }
  });

  it("MAINTENANCE without a message uses the default status text", () => {
    const d = decide(base().safeMode("MAINTENANCE").build(), ctx(), MESSAGE);
    expect(d.reasons).toEqual([{ code: "safe_mode.maintenance", detail: DEFAULT_MAINTENANCE_MESSAGE }]);
  });

  it("READ_ONLY lets messages and READ skills through and denies WRITE and DESTRUCTIVE", () => {
    const snap = base()
      .skill("ticket.create", { riskClass: "WRITE" })
      .skill("ticket.delete", { riskClass: "DESTRUCTIVE" })
      .safeMode("READ_ONLY")
      .build();
    expect(decide(snap, ctx(), MESSAGE).outcome).toBe("allow");
    expect(decide(snap, ctx(), skill("kb.search")).outcome).toBe("allow");
    for (const key of ["ticket.create", "ticket.delete"]) {
      const d = decide(snap, ctx(), skill(key));
      expect(d.outcome).toBe("deny");
      expect(codes(d)).toEqual(["safe_mode.read_only"]);
    }
  });

  it("an expired activation counts as off, judged at the decision's time", () => {
    const expiresAt = new Date(NOW.getTime() + 60_000);
    const snap = base().safeMode("MAINTENANCE", { expiresAt }).build();
    expect(decide(snap, ctx(), MESSAGE).outcome).toBe("deny");
    expect(decide(snap, ctx({ now: expiresAt.getTime() + 1 }), MESSAGE).outcome).toBe("allow");
    const expiredAtBuild = base()
      .safeMode("MAINTENANCE", { expiresAt: new Date("2025-12-31T00:00:00Z") })
      .build();
    expect(activationsInForce(expiredAtBuild.safeMode, NOW)).toEqual([]);
    expect(decide(expiredAtBuild, ctx(), MESSAGE).outcome).toBe("allow");
  });
});

describe("decide: scoped safe mode and the kill switch", () => {
  it("a conversation scope applies to that conversation only", () => {
    const snap = base()
      .conversation("cid-2")
      .safeMode("MAINTENANCE", { scopes: ["conversation:cid-2"] })
      .build();
    expect(decide(snap, ctx(), MESSAGE).outcome).toBe("allow");
    expect(decide(snap, ctx({ conversationId: "cid-2" }), MESSAGE).reasons.map((r) => r.code)).toEqual([
      "safe_mode.maintenance",
    ]);
  });

  it("the strictest matching activation wins (MAINTENANCE over READ_ONLY), whichever came first", () => {
    const snap = base()
      .safeMode("READ_ONLY", { message: "read only" })
      .safeMode("MAINTENANCE", { scopes: [`conversation:${CID}`], message: "down" })
      .build();
    expect(decide(snap, ctx(), MESSAGE).reasons).toEqual([{ code: "safe_mode.maintenance", detail: "down" }]);
    expect(conversationSafeMode(snap.safeMode, NOW, "cid-other")?.level).toBe("READ_ONLY");
    expect(effectiveSafeMode(snap.safeMode, NOW, CID)).toBe("MAINTENANCE");
  });

  it("a skill or risk scope withdraws the matching skills only, and leaves messages alone", () => {
    const snap = base()
      .skill("kb.search", { riskClass: "READ" })
      .skill("ticket.create", { riskClass: "WRITE" })
      .skill("ticket.close", { riskClass: "WRITE" })
      .safeMode("READ_ONLY", { scopes: ["skill:ticket.create"] })
      .build();
    expect(decide(snap, ctx(), MESSAGE).outcome).toBe("allow");
    expect(decide(snap, ctx(), skill("ticket.create")).reasons.map((r) => r.code)).toEqual(["safe_mode.withdrawn"]);
    expect(decide(snap, ctx(), skill("ticket.close")).reasons.map((r) => r.code)).not.toContain("safe_mode.withdrawn");
    const risk = base()
      .skill("kb.search", { riskClass: "READ" })
      .skill("ticket.create", { riskClass: "WRITE" })
      .safeMode("READ_ONLY", { scopes: ["risk:WRITE", `conversation:${CID}`] })
      .build();
    expect(decide(risk, ctx(), skill("ticket.create")).reasons.map((r) => r.code)).toEqual(["safe_mode.withdrawn"]);
    expect(decide(risk, ctx(), skill("kb.search")).outcome).toBe("allow");
    // Kinds AND'd: the risk scope holds in the named conversation only.
    const other = decide(risk, ctx({ conversationId: "cid-2" }), skill("ticket.create"));
    expect(other.reasons.map((r) => r.code)).not.toContain("safe_mode.withdrawn");
  });

  it("a scoped activation past its expiry counts as ended at the decision's time", () => {
    const expiresAt = new Date(NOW.getTime() + 60_000);
    const snap = base()
      .safeMode("MAINTENANCE", { scopes: [`conversation:${CID}`], expiresAt })
      .build();
    expect(decide(snap, ctx(), MESSAGE).outcome).toBe("deny");
    expect(decide(snap, ctx({ now: expiresAt.getTime() }), MESSAGE).outcome).toBe("allow");
    expect(nextSafeModeExpiry(snap.safeMode, NOW)).toEqual(expiresAt);
    expect(nextSafeModeExpiry(snap.safeMode, expiresAt)).toBeNull();
  });

  it("the kill switch withdraws every WRITE and DESTRUCTIVE skill, and keeps READ ones", () => {
    const snap = base()
      .skill("kb.search", { riskClass: "READ" })
      .skill("ticket.create", { riskClass: "WRITE" })
      .skill("db.drop", { riskClass: "DESTRUCTIVE" })
      .killSwitch()
      .build();
    expect(decide(snap, ctx(), skill("kb.search")).outcome).toBe("allow");
    for (const key of ["ticket.create", "db.drop"])
      expect(decide(snap, ctx(), skill(key)).reasons.map((r) => r.code)).toContain("kill_switch");
    expect(decide(snap, ctx(), MESSAGE).outcome).toBe("allow");
  });
});

describe("decide: skills", () => {
  it("denies an unknown skill", () => {
    const d = decide(base().build(), ctx(), skill("rm.rf"));
    expect(d).toMatchObject({ outcome: "deny", reasons: [{ code: "skill.unknown" }] });
  });

  it("denies a disabled skill", () => {
    const d = decide(base().skill("http.fetch", { enabled: false }).build(), ctx(), skill("http.fetch"));
    expect(codes(d)).toEqual(["skill.disabled"]);
  });

  it("denies a skill not rolled out to the conversation's environment", () => {
    const snap = base()
      .skill("beta.tool", { environments: ["TEST"] })
      .conversation("cid-test", { environment: "TEST" })
      .build();
    expect(codes(decide(snap, ctx(), skill("beta.tool")))).toEqual(["skill.environment"]);
    expect(decide(snap, ctx({ conversationId: "cid-test" }), skill("beta.tool")).outcome).toBe("allow");
  });
});

describe("decide: rules", () => {
  it("a GLOBAL DENY denies everywhere, and wins over a CONVERSATION and a USER ALLOW", () => {
    const snap = base()
      .rule("kb.search", "GLOBAL", "", "DENY")
      .rule("kb.search", "CONVERSATION", "cid-a", "ALLOW")
      .rule("kb.search", "USER", "u-1", "ALLOW")
      .build();
    expect(codes(decide(snap, ctx(), skill("kb.search")))).toEqual(["rule.deny.global"]);
  });

  it("a GLOBAL ALLOW is explicit but changes nothing", () => {
    const snap = base().rule("kb.search", "GLOBAL", "", "ALLOW").build();
    expect(decide(snap, ctx(), skill("kb.search")).outcome).toBe("allow");
  });

  it("a CONVERSATION DENY denies that conversation only", () => {
    const snap = base().conversation("cid-b").rule("kb.search", "CONVERSATION", "cid-a", "DENY").build();
    expect(codes(decide(snap, ctx(), skill("kb.search")))).toEqual(["rule.deny.conversation"]);
    expect(decide(snap, ctx({ conversationId: "cid-b" }), skill("kb.search")).outcome).toBe("allow");
  });

  it("a USER DENY denies that user only, even where the conversation is allowlisted", () => {
    const snap = base()
      .rule("kb.search", "CONVERSATION", "cid-a", "ALLOW")
      .rule("kb.search", "USER", "u-1", "DENY")
      .build();
    expect(codes(decide(snap, ctx(), skill("kb.search")))).toEqual(["rule.deny.user"]);
    expect(decide(snap, ctx({ userId: "u-2" }), skill("kb.search")).outcome).toBe("allow");
  });

  it("a CONVERSATION ALLOW makes an allowlist: other conversations are denied", () => {
    const snap = base().conversation("cid-b").rule("kb.search", "CONVERSATION", "cid-b", "ALLOW").build();
    expect(codes(decide(snap, ctx(), skill("kb.search")))).toEqual(["rule.not_allowlisted.conversation"]);
    expect(decide(snap, ctx({ conversationId: "cid-b" }), skill("kb.search")).outcome).toBe("allow");
  });

  it("a USER ALLOW makes an allowlist: other users are denied", () => {
    const snap = base().rule("kb.search", "USER", "u-2", "ALLOW").build();
    expect(codes(decide(snap, ctx(), skill("kb.search")))).toEqual(["rule.not_allowlisted.user"]);
    expect(decide(snap, ctx({ userId: "u-2" }), skill("kb.search")).outcome).toBe("allow");
  });

  it("a DENY rule on one skill leaves other skills alone", () => {
    const snap = base().skill("status").rule("kb.search", "USER", "u-1", "DENY").build();
    expect(decide(snap, ctx(), skill("status")).outcome).toBe("allow");
  });
});

describe("decide: flags", () => {
  it("agent.tools off denies every skill but not messages", () => {
    const snap = base().flag("agent.tools", false).build();
    expect(codes(decide(snap, ctx(), skill("kb.search")))).toEqual(["flag.off"]);
    expect(decide(snap, ctx(), MESSAGE).outcome).toBe("allow");
  });

  it("a missing agent.tools flag counts as off (fail closed)", () => {
    expect(codes(decide(base().withoutFlag("agent.tools").build(), ctx(), skill("kb.search")))).toEqual(["flag.off"]);
  });

  it("settings.requiresFlag denies while the flag is off or unknown, allows when on", () => {
    const f = () => base().skill("kb.beta", { settings: { requiresFlag: "kb.beta" } });
    expect(codes(decide(f().build(), ctx(), skill("kb.beta")))).toEqual(["flag.off"]);
    expect(codes(decide(f().flag("kb.beta", false).build(), ctx(), skill("kb.beta")))).toEqual(["flag.off"]);
    expect(decide(f().flag("kb.beta", true).build(), ctx(), skill("kb.beta")).outcome).toBe("allow");
  });

  it("a malformed requiresFlag setting stays closed", () => {
    const snap = base()
      .skill("kb.odd", { settings: { requiresFlag: 42 } })
      .build();
    expect(codes(decide(snap, ctx(), skill("kb.odd")))).toEqual(["flag.off"]);
  });
});

describe("decide: budget", () => {
  it("an exhausted budget denies messages and skills, naming the scope", () => {
    const snap = base().build();
    for (const req of [MESSAGE, skill("kb.search")]) {
      const d = decide(snap, ctx({ budget: { exhausted: true, scope: "conversation daily" } }), req);
      expect(d.outcome).toBe("deny");
      expect(codes(d)).toEqual(["budget.exhausted"]);
      expect(d.reasons[0]?.detail).toContain("conversation daily");
    }
    expect(decide(snap, ctx({ budget: { exhausted: false } }), MESSAGE).outcome).toBe("allow");
  });
});

describe("decide: approvals", () => {
  const snap = base()
    .skill("ticket.create", { riskClass: "WRITE", requiresApproval: true })
    .skill("group.note", { riskClass: "WRITE", requiresApproval: false })
    .skill("ticket.delete", { riskClass: "DESTRUCTIVE", requiresApproval: false })
    .build();

  it("a WRITE skill with requiresApproval needs approval", () => {
    expect(decide(snap, ctx(), skill("ticket.create"))).toMatchObject({
      outcome: "needs_approval",
      reasons: [{ code: "approval.required" }],
    });
  });

  it("a WRITE skill without requiresApproval is allowed", () => {
    expect(decide(snap, ctx(), skill("group.note")).outcome).toBe("allow");
  });

  it("every DESTRUCTIVE skill needs approval", () => {
    expect(decide(snap, ctx(), skill("ticket.delete"))).toMatchObject({
      outcome: "needs_approval",
      reasons: [{ code: "approval.required" }],
    });
  });

  it("a denied write is denied, not sent for approval", () => {
    const denied = decide(snap, ctx({ budget: { exhausted: true } }), skill("ticket.create"));
    expect(denied.outcome).toBe("deny");
    expect(codes(denied)).not.toContain("approval.required");
  });
});

describe("decide: every applicable reason is reported", () => {
  it("collects conversation, safe mode, budget, flag, skill, environment and rule reasons together", () => {
    const snap = policyFixture()
      .conversation("cid-x", { status: "DISABLED", environment: "PROD" })
      .skill("ticket.create", {
        riskClass: "WRITE",
        requiresApproval: true,
        enabled: false,
        environments: ["TEST"],
        settings: { requiresFlag: "tickets" },
      })
      .rule("ticket.create", "GLOBAL", "", "DENY")
      .rule("ticket.create", "CONVERSATION", "cid-x", "DENY")
      .rule("ticket.create", "USER", "u-9", "ALLOW")
      .flag("agent.tools", false)
      .safeMode("READ_ONLY")
      .build();
    const d = decide(snap, ctx({ conversationId: "cid-x", budget: { exhausted: true } }), skill("ticket.create"));
    expect(d.outcome).toBe("deny");
    expect(codes(d)).toEqual([
      "conversation.disabled",
      "budget.exhausted",
      "flag.off",
      "safe_mode.read_only",
      "skill.disabled",
      "skill.environment",
      "flag.off",
      "rule.deny.global",
      "rule.deny.conversation",
      "rule.not_allowlisted.user",
    ]);
    expect(d.reasons.every((r) => r.detail.length > 0)).toBe(true);
  });

  it("an unknown conversation and an unknown skill are both reported", () => {
    expect(codes(decide(base().build(), ctx({ conversationId: "nope" }), skill("nope")))).toEqual([
      "conversation.unknown",
      "skill.unknown",
    ]);
  });
});

describe("snapshot", () => {
  it("is frozen and carries its revision", () => {
    const snap = base().revision(42).build();
    expect(snap.revision).toBe(42);
    expect(Object.isFrozen(snap)).toBe(true);
    expect(Object.isFrozen(snap.skills.get("kb.search"))).toBe(true);
  });

  it("a DENY and an ALLOW for the same subject resolve to DENY whatever the order", () => {
    const snap = base().rule("kb.search", "USER", "u-1", "DENY").rule("kb.search", "USER", "u-1", "ALLOW").build();
    expect(codes(decide(snap, ctx(), skill("kb.search")))).toEqual(["rule.deny.user"]);
  });
});

describe("decide: outside tools and untrusted content", () => {
  const snap = base()
    .skill("ticket.create", { riskClass: "WRITE", requiresApproval: true })
    .skill("group.note", { riskClass: "WRITE", requiresApproval: false })
    .skill("mcp.crm.lookup", { source: "MCP", approvedHash: "h1", untrustedOutput: true })
    .skill("mcp.crm.new", { source: "MCP", approvedHash: null, riskClass: "WRITE" })
    .skill("mcp.crm.edit", { source: "MCP", approvedHash: "h2", pendingDefinition: { description: "x" } })
    .build();

  it("an outside tool never approved, or changed since its approval, is withdrawn; an approved one runs", () => {
    expect(decide(snap, ctx(), skill("mcp.crm.lookup")).outcome).toBe("allow");
    expect(snap.skills.get("mcp.crm.lookup")?.untrustedOutput).toBe(true);
    for (const key of ["mcp.crm.new", "mcp.crm.edit"]) {
      const d = decide(snap, ctx(), skill(key));
      expect(d.outcome).toBe("deny");
      expect(codes(d)).toEqual(["skill.withdrawn"]);
    }
    expect(decide(snap, ctx(), skill("mcp.crm.edit")).reasons[0]!.detail).toContain("describes it differently");
  });

  it("after untrusted content every WRITE waits for an approver, naming the sources; READ calls are not affected", () => {
    const after = ctx({ untrustedRead: ["http.fetch", "mcp.crm.lookup", "http.fetch"] });
    const note = decide(snap, after, skill("group.note"));
    expect(note.outcome).toBe("needs_approval");
    expect(codes(note)).toEqual(["approval.untrusted_content"]);
    expect(note.reasons[0]!.detail).toContain("(http.fetch, mcp.crm.lookup)");
    expect(codes(decide(snap, after, skill("ticket.create")))).toEqual([
      "approval.required",
      "approval.untrusted_content",
    ]);
    expect(decide(snap, after, skill("kb.search")).outcome).toBe("allow");
    expect(decide(snap, ctx({ untrustedRead: [] }), skill("group.note")).outcome).toBe("allow");
  });
});

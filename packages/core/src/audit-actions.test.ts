import { describe, expect, it } from "vitest";
import { AUDIT_ACTIONS, checkAuditEntry, type AuditAction } from "./audit-actions.ts";
import type { AuditEntry } from "./audit.ts";

describe("audit actions", () => {
  it("is one list without repeats", () => {
    expect(new Set(AUDIT_ACTIONS).size).toBe(AUDIT_ACTIONS.length);
  });

  it("does not compile an unknown action", () => {
    // @ts-expect-error: "skill.frobnicate" is not an audit action
    const entry: AuditEntry = { actor: { type: "CLI", name: "t" }, action: "skill.frobnicate", targetType: "skill" };
    expect(() => checkAuditEntry(entry.action, null)).toThrow(/Unknown audit action "skill.frobnicate"/);
  });

  it("takes any JSON object as the diff of an action without its own shape", () => {
    expect(() => checkAuditEntry("config.onboard", { anything: [1, { a: "b" }] })).not.toThrow();
    expect(() => checkAuditEntry("config.onboard", null)).not.toThrow();
    expect(() => checkAuditEntry("config.onboard", ["not", "an", "object"])).toThrow(/does not have its shape/);
  });

  it("checks the main actions' diffs against their schema", () => {
    const a: AuditAction = "skill.update";
    expect(() => checkAuditEntry(a, { enabled: { from: true, to: false } })).not.toThrow();
    expect(() => checkAuditEntry(a, { secret: { changed: true } })).not.toThrow();
    expect(() => checkAuditEntry(a, { enabled: true })).toThrow(/skill.update/);
    expect(() =>
      checkAuditEntry("conversation.log_view", { conversationId: "c1", messageIds: ["m1", "m2"] }),
    ).not.toThrow();
    // The text itself never goes into the audit entry: an extra field is refused.
    expect(() =>
      checkAuditEntry("conversation.log_view", { conversationId: "c1", messageIds: ["m1"], text: "hello" }),
    ).toThrow();
    expect(() => checkAuditEntry("audit.export", { format: "xml", filters: {} })).toThrow();
  });
});

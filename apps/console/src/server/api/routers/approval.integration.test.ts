// The shared router-test setup goes first: it neutralises server-only and next-auth before trpc.ts loads.
import { routerTest } from "../test-caller.ts";
import { DEMO_CONVERSATION_ID, seedDemo } from "@clawgate/core";
import { describe, expect, it } from "vitest";
import { approvalRouter } from "./approval.ts";

// Callers are the seeded users of each role (approval decisions reference the deciding user).
const t = routerTest(approvalRouter, { prefix: "clawgate_console_approval", seed: (db) => seedDemo(db) });

/** A pending request as the runtime's agent creates one (apps/bot/src/agent/tool-call.ts). */
async function pendingRequest(
  opts: {
    expiresInMs?: number;
    createdAt?: Date;
    input?: object;
    requiredApprovals?: number;
    requesterId?: string;
  } = {},
) {
  return t.db.$transaction(async (tx) => {
    const invocation = await tx.skillInvocation.create({
      data: {
        traceId: "trace-1",
        conversationId: DEMO_CONVERSATION_ID,
        userId: "staff-1",
        skillKey: "ticket.create",
        decision: "NEEDS_APPROVAL",
        reasons: ["skill.requires_approval"],
        outcome: "PENDING_APPROVAL",
        configRevision: 1,
      },
      select: { id: true },
    });
    return tx.approvalRequest.create({
      data: {
        invocationId: invocation.id,
        skillKey: "ticket.create",
        conversationId: DEMO_CONVERSATION_ID,
        requesterId: opts.requesterId ?? "staff-1",
        ...(opts.requiredApprovals && { requiredApprovals: opts.requiredApprovals }),
        input: opts.input ?? { title: "Printer on fire", priority: "high" },
        expiresAt: new Date(Date.now() + (opts.expiresInMs ?? 3_600_000)),
        traceId: "trace-1",
        configRevision: 1,
        ...(opts.createdAt && { createdAt: opts.createdAt }),
      },
    });
  });
}

describe("approval router", () => {
  it("lists pending requests first with the input, conversation title and counts", async () => {
    const old = await pendingRequest({ createdAt: new Date(Date.now() - 86_400_000) });
    await t.db.approvalRequest.update({ where: { id: old.id }, data: { status: "REJECTED", decidedAt: new Date() } });
    const pending = await pendingRequest({ input: { title: "Need access", token: "abc" } });
    const list = await (await t.asUserWith("VIEWER")).list();
    expect(list.items.map((i) => i.id)).toEqual([pending.id, old.id]);
    expect(list.items[0]).toMatchObject({
      status: "PENDING",
      conversationTitle: "Clawgate demo group",
      input: { title: "Need access", token: "[redacted]" },
      skill: { riskClass: "WRITE" },
    });
    expect(list).toMatchObject({ total: 2, pending: 1, page: 1, pageCount: 1 });
    const rejected = await (await t.asUserWith("VIEWER")).list({ status: "REJECTED", page: 1, pageSize: 20 });
    expect(rejected.items.map((i) => i.id)).toEqual([old.id]);
  });

  it("refuses a viewer and an operator server-side, changing nothing", async () => {
    const request = await pendingRequest();
    const audit = await t.db.auditLog.count({ where: { action: { not: "auth.refused" } } });
    for (const role of ["VIEWER", "OPERATOR"] as const) {
      await expect((await t.asUserWith(role)).decide({ id: request.id, approve: true })).rejects.toMatchObject({
        code: "FORBIDDEN",
      });
    }
    expect(await t.db.approvalRequest.findUniqueOrThrow({ where: { id: request.id } })).toMatchObject({
      status: "PENDING",
      decidedById: null,
    });
    expect(await t.db.auditLog.count({ where: { action: { not: "auth.refused" } } })).toBe(audit);
  });

  it("an approver approves with a note; a second decision is a conflict", async () => {
    const request = await pendingRequest();
    const approver = await t.asUserWith("APPROVER");
    expect(await approver.decide({ id: request.id, approve: true, note: "  ok for today " })).toEqual({
      id: request.id,
      status: "APPROVED",
      approvals: 1,
      required: 1,
    });
    const stored = await t.db.approvalRequest.findUniqueOrThrow({
      where: { id: request.id },
      include: { decidedBy: true },
    });
    expect(stored).toMatchObject({ status: "APPROVED", decisionNote: "ok for today" });
    expect(stored.decidedBy?.email).toBe("approver@clawgate.local");
    const audit = await t.db.auditLog.findFirstOrThrow({ where: { action: "approval.approve", targetId: request.id } });
    expect(audit.traceId).toBe("req-APPROVER");
    await expect((await t.asUserWith("ADMIN")).decide({ id: request.id, approve: false })).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringMatching(/already decided/),
    });
  });

  it("an admin rejects with a note; the decision is audited without the input", async () => {
    const request = await pendingRequest({ input: { title: "Delete prod database" } });
    expect(await (await t.asUserWith("ADMIN")).decide({ id: request.id, approve: false, note: "no" })).toEqual({
      id: request.id,
      status: "REJECTED",
      approvals: 0,
      required: 1,
    });
    expect(await t.db.approvalRequest.findUniqueOrThrow({ where: { id: request.id } })).toMatchObject({
      status: "REJECTED",
      decisionNote: "no",
    });
    const audit = await t.db.auditLog.findFirstOrThrow({ where: { action: "approval.reject", targetId: request.id } });
    expect(audit.actorName).toBe("admin@clawgate.local");
    expect(JSON.stringify(audit.diff)).not.toContain("Delete prod database");
  });

  it("refuses expired and unknown requests and bad input, changing nothing", async () => {
    const expired = await pendingRequest({ expiresInMs: -1_000 });
    const admin = await t.asUserWith("ADMIN");
    await expect(admin.decide({ id: expired.id, approve: true })).rejects.toMatchObject({
      code: "PRECONDITION_FAILED",
      message: expect.stringMatching(/expired/),
    });
    await expect(admin.decide({ id: "missing", approve: true })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(admin.decide({ id: expired.id, approve: true, note: "x".repeat(1_001) })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    expect(await t.db.approvalRequest.findUniqueOrThrow({ where: { id: expired.id } })).toMatchObject({
      status: "PENDING",
      decidedAt: null,
    });
  });

  it("a quorum of two: one approval leaves it pending (listed as 1 of 2, with who); a second vote by the same person is refused", async () => {
    const request = await pendingRequest({ requiredApprovals: 2 });
    const approver = await t.asUserWith("APPROVER");
    expect(await approver.decide({ id: request.id, approve: true })).toMatchObject({
      status: "PENDING",
      approvals: 1,
      required: 2,
    });
    await expect(approver.decide({ id: request.id, approve: true })).rejects.toMatchObject({
      code: "CONFLICT",
      message: expect.stringMatching(/already approved/),
    });
    const listed = (await approver.list()).items.find((i) => i.id === request.id);
    expect(listed).toMatchObject({
      approvals: 1,
      requiredApprovals: 2,
      decisions: [{ approve: true, channel: "CONSOLE", deciderName: expect.any(String) }],
    });
    expect(await (await t.asUserWith("ADMIN")).decide({ id: request.id, approve: true })).toMatchObject({
      status: "APPROVED",
      approvals: 2,
    });
  });

  it("refuses self-approval, admins included: the requester's DingTalk userId is the decider's", async () => {
    const admin = await t.db.user.findFirstOrThrow({ where: { role: "ADMIN" } });
    await t.db.user.update({ where: { id: admin.id }, data: { dingtalkUserId: "staff-self" } });
    try {
      const request = await pendingRequest({ requesterId: "staff-self" });
      await expect((await t.asUserWith("ADMIN")).decide({ id: request.id, approve: true })).rejects.toMatchObject({
        code: "FORBIDDEN",
        message: expect.stringMatching(/you made this request/i),
      });
      expect(await t.db.approvalDecision.count({ where: { approvalId: request.id } })).toBe(0);
    } finally {
      await t.db.user.update({ where: { id: admin.id }, data: { dingtalkUserId: null } });
    }
  });

  it("metrics: pending count and decision times", async () => {
    const m = await (await t.asUserWith("VIEWER")).metrics();
    expect(m.pending).toBeGreaterThanOrEqual(1);
    expect(m.decided).toBeGreaterThanOrEqual(1);
    expect(m.decisionP50Seconds).not.toBeNull();
  });
});

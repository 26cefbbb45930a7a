// See model.test.ts: the context is built here (real database, a session per role).
import { vi } from "vitest";
vi.mock("server-only", () => ({}));
vi.mock("../../auth.ts", () => ({ getSession: async () => null }));

import { createDb, type Db } from "@clawgate/db";
import type { Role } from "@clawgate/db/enums";
import { DEMO_CONVERSATION_ID, seedDemo } from "@clawgate/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../../../../../packages/devstack/src/testdb.ts";
import { createCallerFactory } from "../trpc.ts";
import { approvalRouter, redactInput } from "./approval.ts";

let tdb: TestDatabase;
let db: Db;
beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_console_approval" });
  db = createDb(tdb.url, { max: 2 });
  await seedDemo(db);
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

async function callerAs(role: Role) {
  const user = await db.user.findFirstOrThrow({ where: { role } });
  const ctx = {
    db,
    requestId: `test-${role}`,
    log: () => undefined,
    session: { user: { id: user.id, email: user.email, name: user.name, role }, expires: new Date(Date.now() + 60_000).toISOString() },
  };
  return createCallerFactory(approvalRouter)(ctx as never);
}

/** A pending request as the runtime's agent creates one (apps/bot/src/agent/tool-call.ts). */
async function pendingRequest(opts: { expiresInMs?: number; createdAt?: Date; input?: object } = {}) {
  return db.$transaction(async (tx) => {
    const invocation = await tx.skillInvocation.create({
      data: { traceId: "trace-1", conversationId: DEMO_CONVERSATION_ID, userId: "staff-1", skillKey: "ticket.create", decision: "NEEDS_APPROVAL", reasons: ["skill.requires_approval"], outcome: "PENDING_APPROVAL", configRevision: 1 },
      select: { id: true },
    });
    return tx.approvalRequest.create({
      data: {
        invocationId: invocation.id,
        skillKey: "ticket.create",
        conversationId: DEMO_CONVERSATION_ID,
        requesterId: "staff-1",
        input: opts.input ?? { title: "Printer on fire", priority: "high" },
        expiresAt: new Date(Date.now() + (opts.expiresInMs ?? 3_600_000)),
        traceId: "trace-1",
        configRevision: 1,
        ...(opts.createdAt && { createdAt: opts.createdAt }),
      },
    });
  });
}

describe("redactInput", () => {
  it("keeps what the approver judges and hides credentials at any depth", () => {
    expect(redactInput({ title: "t", headers: { Authorization: "Bearer x", accept: "json" }, list: [{ apiKey: "k" }], access_token: "t" })).toEqual({
      title: "t",
      headers: { Authorization: "[redacted]", accept: "json" },
      list: [{ apiKey: "[redacted]" }],
      access_token: "[redacted]",
    });
  });
});

describe("approval router", () => {
  it("lists pending requests first with the input, conversation title and counts", async () => {
    const old = await pendingRequest({ createdAt: new Date(Date.now() - 86_400_000) });
    await db.approvalRequest.update({ where: { id: old.id }, data: { status: "REJECTED", decidedAt: new Date() } });
    const pending = await pendingRequest({ input: { title: "Need access", token: "abc" } });
    const list = await (await callerAs("VIEWER")).list();
    expect(list.items.map((i) => i.id)).toEqual([pending.id, old.id]);
    expect(list.items[0]).toMatchObject({ status: "PENDING", conversationTitle: "Clawgate demo group", input: { title: "Need access", token: "[redacted]" }, skill: { riskClass: "WRITE" } });
    expect(list).toMatchObject({ total: 2, pending: 1, page: 1, pageCount: 1 });
    const rejected = await (await callerAs("VIEWER")).list({ status: "REJECTED", page: 1, pageSize: 20 });
    expect(rejected.items.map((i) => i.id)).toEqual([old.id]);
  });

  it("refuses a viewer and an operator server-side, changing nothing", async () => {
    const request = await pendingRequest();
    const audit = await db.auditLog.count();
    for (const role of ["VIEWER", "OPERATOR"] as const) {
      await expect((await callerAs(role)).decide({ id: request.id, approve: true })).rejects.toMatchObject({ code: "FORBIDDEN" });
    }
    expect(await db.approvalRequest.findUniqueOrThrow({ where: { id: request.id } })).toMatchObject({ status: "PENDING", decidedById: null });
    expect(await db.auditLog.count()).toBe(audit);
  });

  it("an approver approves with a note; a second decision is a conflict", async () => {
    const request = await pendingRequest();
    const approver = await callerAs("APPROVER");
    expect(await approver.decide({ id: request.id, approve: true, note: "  ok for today " })).toEqual({ id: request.id, status: "APPROVED" });
    const stored = await db.approvalRequest.findUniqueOrThrow({ where: { id: request.id }, include: { decidedBy: true } });
    expect(stored).toMatchObject({ status: "APPROVED", decisionNote: "ok for today" });
    expect(stored.decidedBy?.email).toBe("approver@clawgate.local");
    const audit = await db.auditLog.findFirstOrThrow({ where: { action: "approval.approve", targetId: request.id } });
    expect(audit.traceId).toBe("test-APPROVER");
    await expect((await callerAs("ADMIN")).decide({ id: request.id, approve: false })).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/already decided/) });
  });

  it("an admin rejects with a note; the decision is audited without the input", async () => {
    const request = await pendingRequest({ input: { title: "Delete prod database" } });
    expect(await (await callerAs("ADMIN")).decide({ id: request.id, approve: false, note: "no" })).toEqual({ id: request.id, status: "REJECTED" });
    expect(await db.approvalRequest.findUniqueOrThrow({ where: { id: request.id } })).toMatchObject({ status: "REJECTED", decisionNote: "no" });
    const audit = await db.auditLog.findFirstOrThrow({ where: { action: "approval.reject", targetId: request.id } });
    expect(audit.actorName).toBe("admin@clawgate.local");
    expect(JSON.stringify(audit.diff)).not.toContain("Delete prod database");
  });

  it("refuses expired and unknown requests and bad input, changing nothing", async () => {
    const expired = await pendingRequest({ expiresInMs: -1_000 });
    const admin = await callerAs("ADMIN");
    await expect(admin.decide({ id: expired.id, approve: true })).rejects.toMatchObject({ code: "PRECONDITION_FAILED", message: expect.stringMatching(/expired/) });
    await expect(admin.decide({ id: "missing", approve: true })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(admin.decide({ id: expired.id, approve: true, note: "x".repeat(1_001) })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    expect(await db.approvalRequest.findUniqueOrThrow({ where: { id: expired.id } })).toMatchObject({ status: "PENDING", decidedAt: null });
  });
});

import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import type { Actor } from "./actor.ts";
import { ApprovalError, decideApproval, expireApprovals, listApprovals } from "./approvals.ts";
import { verifyAuditChain } from "./audit.ts";
import { seedDemo } from "./seed/demo.ts";

let tdb: TestDatabase;
let db: Db;
let approver: Actor;
let viewer: Actor;
const HOUR = 3_600_000;

beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_core_approvals" });
  db = createDb(tdb.url, { max: 6 });
  await seedDemo(db);
  const users = await db.user.findMany({ select: { id: true, email: true, role: true } });
  const by = (role: string) => users.find((u) => u.role === role)!;
  approver = { type: "USER", id: by("APPROVER").id, name: by("APPROVER").email! };
  viewer = { type: "USER", id: by("VIEWER").id, name: by("VIEWER").email! };
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

let n = 0;
/** A PENDING request as the agent creates it (see apps/bot/src/agent/tool-call.ts). */
function request(overrides: { expiresAt?: Date; createdAt?: Date } = {}) {
  n += 1;
  return db.approvalRequest.create({
    data: {
      skillKey: "ticket.create",
      conversationId: "cid-approvals",
      requesterId: "user-1",
      input: { project: "OPS", title: `secret title ${n}`, body: "" },
      expiresAt: overrides.expiresAt ?? new Date(Date.now() + 24 * HOUR),
      traceId: `trace-${n}`,
      configRevision: 1,
      ...(overrides.createdAt ? { createdAt: overrides.createdAt } : {}),
    },
  });
}

const auditsOf = (id: string) =>
  db.auditLog.findMany({ where: { targetType: "approval", targetId: id }, orderBy: { id: "asc" } });

/** Everything a refused decision must leave as it was. */
async function unchanged(id: string, before: { updatedAt: Date; status: string }) {
  const row = await db.approvalRequest.findUniqueOrThrow({ where: { id } });
  expect(row.status).toBe(before.status);
  expect(row.updatedAt).toEqual(before.updatedAt);
}

async function refusal(p: Promise<unknown>): Promise<ApprovalError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApprovalError);
  return error as ApprovalError;
}

describe("decideApproval", () => {
  it("approves: status, decider, time, note, and one audit entry without the input", async () => {
    const r = await request();
    const at = new Date();
    const updated = await decideApproval(db, approver, { id: r.id, approve: true, note: " looks fine " }, at);
    expect(updated).toMatchObject({
      id: r.id,
      status: "APPROVED",
      decidedById: approver.id,
      decidedAt: at,
      decisionNote: "looks fine",
    });
    const audits = await auditsOf(r.id);
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({
      action: "approval.approve",
      actorType: "USER",
      actorId: approver.id,
      traceId: r.traceId,
    });
    expect(audits[0]!.diff).toEqual({
      skillKey: "ticket.create",
      status: { from: "PENDING", to: "APPROVED" },
      note: "set",
    });
    expect(JSON.stringify({ ...audits[0], id: String(audits[0]!.id) })).not.toContain("secret title");
    expect(await verifyAuditChain(db)).toBeNull();
  });

  it("rejects with a note; a CLI actor has no decider row", async () => {
    const r = await request();
    const updated = await decideApproval(
      db,
      { type: "CLI", name: "ops" },
      { id: r.id, approve: false, note: "not now" },
    );
    expect(updated).toMatchObject({ status: "REJECTED", decidedById: null, decisionNote: "not now" });
    expect((await auditsOf(r.id)).map((a) => a.action)).toEqual(["approval.reject"]);
  });

  it("refuses a second decision and changes nothing", async () => {
    const r = await request();
    const first = await decideApproval(db, approver, { id: r.id, approve: true });
    const error = await refusal(decideApproval(db, approver, { id: r.id, approve: false, note: "changed my mind" }));
    expect(error.code).toBe("already_decided");
    expect(error.message).toContain("already decided (approved)");
    await unchanged(r.id, first);
    expect(await auditsOf(r.id)).toHaveLength(1);
  });

  it("lets exactly one of two concurrent decisions through", async () => {
    const r = await request();
    const results = await Promise.allSettled([
      decideApproval(db, approver, { id: r.id, approve: true }),
      decideApproval(db, approver, { id: r.id, approve: false }),
    ]);
    expect(results.filter((x) => x.status === "fulfilled")).toHaveLength(1);
    const failed = results.find((x) => x.status === "rejected") as PromiseRejectedResult;
    expect((failed.reason as ApprovalError).code).toBe("already_decided");
    expect(await auditsOf(r.id)).toHaveLength(1);
  });

  it("refuses an expired request (still PENDING or already EXPIRED) and changes nothing", async () => {
    const r = await request({ expiresAt: new Date(Date.now() - 1_000) });
    const error = await refusal(decideApproval(db, approver, { id: r.id, approve: true }));
    expect(error.code).toBe("expired");
    await unchanged(r.id, r);
    // Decided "in the future" past the expiry: refused too.
    const later = await request({ expiresAt: new Date(Date.now() + HOUR) });
    expect(
      (await refusal(decideApproval(db, approver, { id: later.id, approve: true }, new Date(Date.now() + 2 * HOUR))))
        .code,
    ).toBe("expired");
    await unchanged(later.id, later);
    expect(await auditsOf(r.id)).toEqual([]);
  });

  it("refuses bad input, unknown ids and users who may not decide, writing nothing", async () => {
    const r = await request();
    const audits = await db.auditLog.count();
    expect((await refusal(decideApproval(db, approver, { id: "", approve: true }))).code).toBe("invalid_input");
    expect(
      (await refusal(decideApproval(db, approver, { id: r.id, approve: true, note: "x".repeat(1_001) }))).message,
    ).toContain("note");
    expect((await refusal(decideApproval(db, approver, { id: r.id, approve: "yes" as unknown as boolean }))).code).toBe(
      "invalid_input",
    );
    expect((await refusal(decideApproval(db, approver, { id: "no-such-request", approve: true }))).code).toBe(
      "not_found",
    );
    expect((await refusal(decideApproval(db, viewer, { id: r.id, approve: true }))).code).toBe("forbidden");
    expect(
      (await refusal(decideApproval(db, { type: "USER", id: "nobody", name: "x" }, { id: r.id, approve: true }))).code,
    ).toBe("forbidden");
    await unchanged(r.id, r);
    expect(await db.auditLog.count()).toBe(audits);
  });

  it("commits without the queue schema (the runtime's sweep picks the request up)", async () => {
    const [schema] = await db.$queryRaw<
      { present: boolean }[]
    >`SELECT to_regnamespace('graphile_worker') IS NOT NULL AS present`;
    expect(schema!.present).toBe(false);
    const r = await request();
    expect((await decideApproval(db, approver, { id: r.id, approve: true })).status).toBe("APPROVED");
  });
});

describe("expireApprovals", () => {
  it("expires PENDING requests past their expiry, audited; leaves the others", async () => {
    const old = await request({ expiresAt: new Date(Date.now() - 60_000) });
    const fresh = await request();
    const decided = await request({ expiresAt: new Date(Date.now() + 1_000) });
    await decideApproval(db, approver, { id: decided.id, approve: false });
    const expired = await expireApprovals(db, new Date(Date.now() + 2_000));
    expect(expired).toContain(old.id);
    expect(expired).not.toContain(fresh.id);
    expect(expired).not.toContain(decided.id);
    expect((await db.approvalRequest.findUniqueOrThrow({ where: { id: old.id } })).status).toBe("EXPIRED");
    expect((await db.approvalRequest.findUniqueOrThrow({ where: { id: fresh.id } })).status).toBe("PENDING");
    expect((await auditsOf(old.id)).map((a) => [a.action, a.actorType])).toEqual([["approval.expire", "SYSTEM"]]);
    expect(await expireApprovals(db, new Date(Date.now() + 2_000))).toEqual([]);
    expect((await refusal(decideApproval(db, approver, { id: old.id, approve: true }))).code).toBe("expired");
    expect(await verifyAuditChain(db)).toBeNull();
  });
});

describe("listApprovals", () => {
  it("pages newest first and filters by status", async () => {
    const base = Date.now() + 10 * HOUR; // newer than every request above
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await request({ createdAt: new Date(base + i * 1_000) }));
    const first = await listApprovals(db, { status: "PENDING", take: 2 });
    expect(first.items.map((i) => i.id)).toEqual([made[2]!.id, made[1]!.id]);
    expect(first.nextCursor).toBe(made[1]!.id);
    const second = await listApprovals(db, { status: "PENDING", take: 2, cursor: first.nextCursor! });
    expect(second.items[0]!.id).toBe(made[0]!.id);
    expect(second.items.every((i) => i.status === "PENDING")).toBe(true);
    const rejected = await listApprovals(db, { status: "REJECTED", take: 100 });
    expect(rejected.items.length).toBeGreaterThan(0);
    expect(rejected.items.every((i) => i.status === "REJECTED")).toBe(true);
    await expect(listApprovals(db, { take: 1_000 })).rejects.toThrow();
  });
});

import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import type { Actor } from "./actor.ts";
import {
  approvalBindingHash,
  approvalMetrics,
  decideApproval,
  decideApprovalByCard,
  escalateApprovals,
  expireApprovals,
  listApprovals,
  requestApproval,
} from "./approvals.ts";
import { DomainError } from "./errors.ts";
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

async function refusal(p: Promise<unknown>): Promise<DomainError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

describe("decideApproval", () => {
  it("approves: status, decider, time, note, and one audit entry without the input", async () => {
    const r = await request();
    const at = new Date();
    const {
      request: updated,
      approvals,
      required,
    } = await decideApproval(db, approver, { id: r.id, approve: true, note: " looks fine " }, at);
    expect({ approvals, required }).toEqual({ approvals: 1, required: 1 });
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
      channel: "CONSOLE",
      approvals: { count: 1, required: 1 },
      status: { from: "PENDING", to: "APPROVED" },
      note: "set",
    });
    expect(JSON.stringify({ ...audits[0], id: String(audits[0]!.id) })).not.toContain("secret title");
    expect(await verifyAuditChain(db)).toBeNull();
  });

  it("rejects with a note; a CLI actor (no console user) may not decide", async () => {
    const r = await request();
    expect((await refusal(decideApproval(db, { type: "CLI", name: "ops" }, { id: r.id, approve: false }))).reason).toBe(
      "forbidden",
    );
    const { request: updated } = await decideApproval(db, approver, { id: r.id, approve: false, note: "not now" });
    expect(updated).toMatchObject({ status: "REJECTED", decidedById: approver.id, decisionNote: "not now" });
    expect((await auditsOf(r.id)).map((a) => a.action)).toEqual(["approval.reject"]);
  });

  it("refuses a second decision and changes nothing", async () => {
    const r = await request();
    const { request: first } = await decideApproval(db, approver, { id: r.id, approve: true });
    const error = await refusal(decideApproval(db, approver, { id: r.id, approve: false, note: "changed my mind" }));
    expect(error.reason).toBe("already_decided");
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
    expect((failed.reason as DomainError).reason).toBe("already_decided");
    expect(await auditsOf(r.id)).toHaveLength(1);
  });

  it("refuses an expired request (still PENDING or already EXPIRED) and changes nothing", async () => {
    const r = await request({ expiresAt: new Date(Date.now() - 1_000) });
    const error = await refusal(decideApproval(db, approver, { id: r.id, approve: true }));
    expect(error.reason).toBe("expired");
    await unchanged(r.id, r);
    // Decided "in the future" past the expiry: refused too.
    const later = await request({ expiresAt: new Date(Date.now() + HOUR) });
    expect(
      (await refusal(decideApproval(db, approver, { id: later.id, approve: true }, new Date(Date.now() + 2 * HOUR))))
        .reason,
    ).toBe("expired");
    await unchanged(later.id, later);
    expect(await auditsOf(r.id)).toEqual([]);
  });

  it("refuses bad input, unknown ids and users who may not decide, writing nothing", async () => {
    const r = await request();
    const audits = await db.auditLog.count();
    expect((await refusal(decideApproval(db, approver, { id: "", approve: true }))).reason).toBe("invalid_input");
    expect(
      (await refusal(decideApproval(db, approver, { id: r.id, approve: true, note: "x".repeat(1_001) }))).message,
    ).toContain("note");
    expect(
      (await refusal(decideApproval(db, approver, { id: r.id, approve: "yes" as unknown as boolean }))).reason,
    ).toBe("invalid_input");
    expect((await refusal(decideApproval(db, approver, { id: "no-such-request", approve: true }))).reason).toBe(
      "not_found",
    );
    expect((await refusal(decideApproval(db, viewer, { id: r.id, approve: true }))).reason).toBe("forbidden");
    expect(
      (await refusal(decideApproval(db, { type: "USER", id: "nobody", name: "x" }, { id: r.id, approve: true })))
        .reason,
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
    expect((await decideApproval(db, approver, { id: r.id, approve: true })).request.status).toBe("APPROVED");
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
    expect((await refusal(decideApproval(db, approver, { id: old.id, approve: true }))).reason).toBe("expired");
    expect(await verifyAuditChain(db)).toBeNull();
  });
});

describe("listApprovals", () => {
  it("pages pending first, newest first, filters by status, and shows votes and people", async () => {
    const base = Date.now() + 10 * HOUR; // newer than every request above
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await request({ createdAt: new Date(base + i * 1_000) }));
    const first = await listApprovals(db, { status: "PENDING", page: 1, pageSize: 2 });
    expect(first.items.map((i) => i.id)).toEqual([made[2]!.id, made[1]!.id]);
    const second = await listApprovals(db, { status: "PENDING", page: 2, pageSize: 2 });
    expect(second.items[0]!.id).toBe(made[0]!.id);
    expect(second.items.every((i) => i.status === "PENDING")).toBe(true);
    const rejected = await listApprovals(db, { status: "REJECTED", page: 1, pageSize: 100 });
    expect(rejected.items.length).toBeGreaterThan(0);
    expect(rejected.items.every((i) => i.status === "REJECTED")).toBe(true);
    expect(rejected.items[0]!.decisions).toEqual([expect.objectContaining({ approve: false, channel: "CONSOLE" })]);
    await expect(listApprovals(db, { page: 1, pageSize: 1_000 })).rejects.toThrow();
  });
});

let admin: Actor;
let adminId: string;

describe("quorum, self-approval and card decisions", () => {
  beforeAll(async () => {
    const u = await db.user.findFirstOrThrow({ where: { role: "ADMIN" } });
    admin = { type: "USER", id: u.id, name: u.email! };
    adminId = u.id;
    await db.user.update({ where: { id: approver.id! }, data: { dingtalkUserId: "dt-approver" } });
    await db.user.update({ where: { id: viewer.id! }, data: { dingtalkUserId: "dt-viewer" } });
  });

  /** As the runtime makes one, through requestApproval (settings, binding, people, audit). */
  async function requested(
    opts: { skillKey?: string; riskClass?: "WRITE" | "DESTRUCTIVE"; requesterId?: string } = {},
  ) {
    n += 1;
    const now = new Date();
    return db.$transaction((tx) =>
      requestApproval(tx, {
        skillKey: opts.skillKey ?? "ticket.create",
        skillVersion: "v1",
        riskClass: opts.riskClass ?? "WRITE",
        input: { project: "OPS", title: `t${n}` },
        requesterId: opts.requesterId ?? "user-1",
        conversationId: "cid-approvals",
        traceId: `trace-q${n}`,
        configRevision: 1,
        now,
      }),
    );
  }

  it("requestApproval: expiry and quorum from the approvals section (per skill over per risk), the binding hash", async () => {
    await db.configSection.upsert({
      where: { key: "approvals" },
      create: {
        key: "approvals",
        value: { expires_after_minutes: 10, quorum: { write: 2 }, skills: { "kb.search": { quorum: 3 } } },
      },
      update: { value: { expires_after_minutes: 10, quorum: { write: 2 }, skills: { "kb.search": { quorum: 3 } } } },
    });
    try {
      const r = await requested();
      const row = await db.approvalRequest.findUniqueOrThrow({ where: { id: r.id } });
      expect(row.requiredApprovals).toBe(2);
      expect(row.expiresAt.getTime() - row.createdAt.getTime()).toBe(10 * 60_000);
      expect(row.bindingHash).toBe(
        approvalBindingHash({
          skillKey: "ticket.create",
          skillVersion: "v1",
          input: row.input,
          requesterId: "user-1",
          conversationId: "cid-approvals",
        }),
      );
      expect((await requested({ skillKey: "kb.search" })).requiredApprovals).toBe(3);
      expect((await auditsOf(r.id)).map((a) => a.action)).toEqual(["approval.request"]);
    } finally {
      await db.configSection.delete({ where: { key: "approvals" } });
    }
    // Defaults: 30 minutes; WRITE 1, DESTRUCTIVE 2.
    const w = await requested();
    expect((await db.approvalRequest.findUniqueOrThrow({ where: { id: w.id } })).requiredApprovals).toBe(1);
    expect(w.expiresAt.getTime() - Date.now()).toBeGreaterThan(29 * 60_000);
    expect((await requested({ riskClass: "DESTRUCTIVE" })).requiredApprovals).toBe(2);
  });

  it("DESTRUCTIVE: two distinct approvers; one approval shows 1 of 2; the same person twice is refused", async () => {
    const r = await requested({ riskClass: "DESTRUCTIVE" });
    const first = await decideApproval(db, approver, { id: r.id, approve: true });
    expect(first).toMatchObject({ approvals: 1, required: 2, final: false, request: { status: "PENDING" } });
    expect((await refusal(decideApproval(db, approver, { id: r.id, approve: true }))).reason).toBe("already_voted");
    const second = await decideApproval(db, admin, { id: r.id, approve: true });
    expect(second).toMatchObject({ approvals: 2, final: true, request: { status: "APPROVED", decidedById: adminId } });
    expect((await auditsOf(r.id)).map((a) => a.action)).toEqual([
      "approval.request",
      "approval.vote",
      "approval.approve",
    ]);
  });

  it("any one rejection rejects, even after an approval", async () => {
    const r = await requested({ riskClass: "DESTRUCTIVE" });
    await decideApproval(db, approver, { id: r.id, approve: true });
    expect((await decideApproval(db, admin, { id: r.id, approve: false, note: "no" })).request.status).toBe("REJECTED");
  });

  it("no self-approval: by declared userId, by declared unionId, by a DingTalk sign-in's unionId; admins included", async () => {
    const mine = await requested({ requesterId: "dt-approver" });
    expect((await refusal(decideApproval(db, approver, { id: mine.id, approve: true }))).reason).toBe("self_approval");
    // The requester's unionId comes from the message; the admin signed in with DingTalk as that person.
    const r = await requested();
    await db.approvalRequest.update({ where: { id: r.id }, data: { requesterUnionId: "union-admin" } });
    await db.account.create({
      data: { userId: adminId, type: "oauth", provider: "dingtalk", providerAccountId: "union-admin" },
    });
    expect((await refusal(decideApproval(db, admin, { id: r.id, approve: true }))).reason).toBe("self_approval");
    expect(await db.approvalDecision.count({ where: { approvalId: { in: [mine.id, r.id] } } })).toBe(0);
  });

  it("card: a mapped approver decides; unmapped, non-approver, self and DESTRUCTIVE clicks are refused", async () => {
    const r = await requested();
    expect(
      (await refusal(decideApprovalByCard(db, { approvalId: r.id, dingtalkUserId: "dt-stranger", approve: true })))
        .reason,
    ).toBe("unmapped_user");
    expect(
      (await refusal(decideApprovalByCard(db, { approvalId: r.id, dingtalkUserId: "dt-viewer", approve: true })))
        .reason,
    ).toBe("unmapped_user");
    const mine = await requested({ requesterId: "dt-approver" });
    expect(
      (await refusal(decideApprovalByCard(db, { approvalId: mine.id, dingtalkUserId: "dt-approver", approve: true })))
        .reason,
    ).toBe("self_approval");
    const destructive = await requested({ riskClass: "DESTRUCTIVE" });
    expect(
      (
        await refusal(
          decideApprovalByCard(db, { approvalId: destructive.id, dingtalkUserId: "dt-approver", approve: true }),
        )
      ).reason,
    ).toBe("console_only");
    const decided = await decideApprovalByCard(db, { approvalId: r.id, dingtalkUserId: "dt-approver", approve: true });
    expect(decided).toMatchObject({ final: true, request: { status: "APPROVED", decidedById: approver.id } });
    const [vote] = await db.approvalDecision.findMany({ where: { approvalId: r.id } });
    expect(vote).toMatchObject({ channel: "CARD", dingtalkUserId: "dt-approver", approve: true });
    // A redelivered click: refused, nothing changes.
    expect(
      (await refusal(decideApprovalByCard(db, { approvalId: r.id, dingtalkUserId: "dt-approver", approve: true })))
        .reason,
    ).toBe("already_decided");
    expect(await db.approvalDecision.count({ where: { approvalId: r.id } })).toBe(1);
  });

  it("escalation: pending past escalate_after_minutes, once, audited; nothing without an escalation chat", async () => {
    const r = await requested();
    const later = new Date(Date.now() + 16 * 60_000);
    expect(await escalateApprovals(db, later)).toEqual([]);
    await db.configSection.create({
      data: { key: "approvals", value: { escalation_chat: "cid-escalate", escalate_after_minutes: 15 } },
    });
    try {
      expect(await escalateApprovals(db, later)).toContain(r.id);
      expect(await escalateApprovals(db, later)).not.toContain(r.id);
      expect((await auditsOf(r.id)).map((a) => a.action)).toContain("approval.escalate");
    } finally {
      await db.configSection.delete({ where: { key: "approvals" } });
    }
  });

  it("metrics: pending, decision time percentiles, expiry rate", async () => {
    const m = await approvalMetrics(db);
    expect(m.pending).toBeGreaterThan(0);
    expect(m.decided).toBeGreaterThan(0);
    expect(m.expired).toBeGreaterThan(0);
    expect(m.decisionP50Seconds).toBeGreaterThanOrEqual(0);
    expect(m.decisionP95Seconds).toBeGreaterThanOrEqual(m.decisionP50Seconds!);
    expect(m.expiryRate).toBeCloseTo(m.expired / (m.decided + m.expired));
    expect(await verifyAuditChain(db)).toBeNull();
  });
});

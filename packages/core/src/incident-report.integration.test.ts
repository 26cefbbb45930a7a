import { createDb, type Db } from "@clawgate/db";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Actor } from "./actor.ts";
import { appendAudit } from "./audit.ts";
import { buildIncidentReport, incidentReportMarkdown } from "./incident-report.ts";
import { endIncidentTrigger, openOrJoinIncident } from "./incidents.ts";
import { recordConfigChange } from "./revision.ts";

let tdb: TestDatabase;
let db: Db;
const oncall: Actor = { type: "CLI", name: "cli:oncall@host" };
const admin: Actor = { type: "USER", id: "u-admin", name: "admin@clawgate.local" };
const tick = async () => {
  await new Promise((r) => setTimeout(r, 5));
  return new Date();
};

beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_core_incident_report" });
  db = createDb(tdb.url, { max: 4 });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

describe("incident report", () => {
  it("a scripted window yields each kind of event, in order, with actors; nothing outside the window", async () => {
    const approver = await db.user.create({ data: { email: "approver@clawgate.local", role: "APPROVER" } });
    await db.skill.create({ data: { key: "ticket.create", description: "t", riskClass: "WRITE" } });
    await db.skillInvocation.create({
      data: {
        traceId: "t0",
        conversationId: "cid",
        userId: "before",
        skillKey: "kb.search",
        decision: "ALLOW",
        outcome: "SUCCESS",
        configRevision: 1,
        createdAt: new Date(Date.now() - 60_000),
      },
    });

    const opened = await db.$transaction((tx) =>
      openOrJoinIncident(tx, {
        kind: "safe_mode",
        refId: "sm1",
        summary: "Safe mode READ_ONLY",
        actor: oncall,
        at: new Date(),
      }),
    );
    await tick();
    await db.$transaction((tx) =>
      recordConfigChange(tx, {
        actor: admin,
        action: "skill.update",
        targetType: "skill",
        targetId: "kb.search",
        summary: "off",
      }),
    );
    await db.skillInvocation.create({
      data: {
        traceId: "t1",
        conversationId: "cid",
        userId: "u-alice",
        skillKey: "kb.search",
        decision: "ALLOW",
        outcome: "SUCCESS",
        configRevision: 2,
        createdAt: await tick(),
      },
    });
    await db.skillInvocation.create({
      data: {
        traceId: "t2",
        conversationId: "cid",
        userId: "u-bob",
        skillKey: "ticket.delete",
        decision: "DENY",
        reasons: ["safe mode"],
        outcome: "DENIED",
        configRevision: 2,
        createdAt: await tick(),
      },
    });
    await db.skillInvocation.create({
      data: {
        traceId: "t3",
        conversationId: "cid",
        userId: "u-alice",
        skillKey: "kb.search",
        decision: "ALLOW",
        outcome: "TIMEOUT",
        configRevision: 2,
        createdAt: await tick(),
      },
    });
    const request = await db.approvalRequest.create({
      data: {
        skillKey: "ticket.create",
        conversationId: "cid",
        requesterId: "u-carol",
        requesterName: "Carol",
        input: {},
        expiresAt: new Date(Date.now() + 3_600_000),
        traceId: "t4",
        configRevision: 2,
        createdAt: await tick(),
      },
    });
    await db.approvalDecision.create({
      data: {
        approvalId: request.id,
        userId: approver.id,
        approve: true,
        channel: "CONSOLE",
        deciderName: "approver@clawgate.local",
        createdAt: await tick(),
      },
    });
    await db.deadLetter.create({
      data: { source: "INBOUND_JOB", reason: "the same error twice", traceId: "t5", createdAt: await tick() },
    });
    await db.inboundMessage.create({
      data: {
        robotCode: "r",
        msgId: "m1",
        channel: "HTTP",
        conversationId: "cid",
        senderId: "u-dave",
        msgType: "text",
        payload: {},
        status: "REPLIED",
        error: "model_unavailable",
        traceId: "t6",
        receivedAt: await tick(),
        processedAt: new Date(),
      },
    });
    await db.inboundMessage.create({
      data: {
        robotCode: "r",
        msgId: "m2",
        channel: "HTTP",
        conversationId: "cid",
        senderId: "u-erin",
        msgType: "text",
        payload: {},
        status: "FAILED",
        error: "dead_letter:x",
        traceId: "t7",
        receivedAt: await tick(),
        processedAt: new Date(),
      },
    });
    await tick();
    await db.$transaction((tx) =>
      appendAudit(tx, {
        actor: admin,
        action: "auth.sign_in",
        targetType: "user",
        targetId: "u-admin",
        diff: { method: "oidc" },
      }),
    );
    await tick();
    await db.$transaction((tx) =>
      appendAudit(tx, {
        actor: { type: "USER", id: "u-v", name: "viewer@clawgate.local" },
        action: "auth.refused",
        targetType: "procedure",
        targetId: "skill.update",
        diff: { path: "skill.update", role: "VIEWER" },
      }),
    );
    const end = await tick();
    await db.$transaction((tx) => endIncidentTrigger(tx, { kind: "safe_mode", refId: "sm1" }, end));
    await tick();
    await db.skillInvocation.create({
      data: {
        traceId: "t9",
        conversationId: "cid",
        userId: "after",
        skillKey: "kb.search",
        decision: "ALLOW",
        outcome: "SUCCESS",
        configRevision: 2,
      },
    });

    const report = await buildIncidentReport(db, opened.incidentId);
    expect(report.incident.status).toBe("NEEDS_REVIEW");
    const seen = report.entries.map((e) => [e.kind, e.actor]);
    expect(seen).toEqual([
      ["trigger", "cli:oncall@host"],
      ["audit", "cli:oncall@host"], // incident.open
      ["config", "admin@clawgate.local"],
      ["invocation", "dingtalk:u-alice"],
      ["denial", "dingtalk:u-bob"],
      ["error", "dingtalk:u-alice"],
      ["approval", "Carol (dingtalk:u-carol)"],
      ["decision", "approver@clawgate.local"],
      ["error", "runtime"],
      ["fallback", "dingtalk:u-dave"],
      ["error", "dingtalk:u-erin"],
      ["sign_in", "admin@clawgate.local"],
      ["refused", "viewer@clawgate.local"],
      ["trigger", "cli:oncall@host"],
    ]);
    const times = report.entries.map((e) => e.at.getTime());
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(report.entries.find((e) => e.kind === "denial")?.summary).toContain("safe mode");
    expect(report.entries.find((e) => e.kind === "refused")?.summary).toContain("skill.update as VIEWER");
    expect(report.entries.find((e) => e.kind === "sign_in")?.summary).toContain("(oidc)");

    const md = incidentReportMarkdown(report);
    expect(md).toContain(`# Incident ${opened.incidentId}`);
    expect(md).toContain("Needs review");
    expect(md.split("\n").filter((l) => /^\| \d{4}-/.test(l))).toHaveLength(report.entries.length);
    await expect(buildIncidentReport(db, "nope")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

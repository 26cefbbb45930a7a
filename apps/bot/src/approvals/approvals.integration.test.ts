/**
 * Approvals end to end: a write skill requested through the fake DingTalk and the demo model ->
 * PENDING -> decideApproval (as the console calls it) -> the runtime runs the skill against the
 * fake internal API exactly once and answers in the original conversation exactly once, with
 * duplicate jobs on two queue replicas.
 */
import { recordConfigChange, type Actor } from "@clawgate/core";
import { decideApproval } from "@clawgate/core/approvals.ts";
import { DomainError } from "@clawgate/core/errors.ts";
import { describe, expect, it } from "vitest";
import { query, waitFor } from "../../test/helpers.ts";
import { useBotHarness } from "../../test/harness.ts";
import { setSafeMode, untilApplied } from "../../test/policy.ts";
import { sweepApprovals } from "./sweep.ts";

const SYSTEM: Actor = { type: "SYSTEM", name: "test" };

const setSkillEnabled = (enabled: boolean, key = "ticket.create") =>
  h.db.$transaction(async (tx) => {
    await tx.skill.update({ where: { key }, data: { enabled } });
    return recordConfigChange(tx, {
      actor: SYSTEM,
      action: "skill.update",
      targetType: "skill",
      targetId: key,
      summary: `${key} ${enabled}`,
    });
  });

let approver: Actor;
let approverName: string;

const h = useBotHarness({
  name: "approvals",
  demoModel: true,
  internalApi: true,
  seed: "demo-model",
  ingress: true,
  policy: true,
  conversations: [
    "cid-approve",
    "cid-reject",
    "cid-expire",
    "cid-disabled",
    "cid-readonly",
    "cid-lost",
    "cid-bad",
    "cid-announce",
    "cid-all-hands",
    "cid-tampered",
    "cid-ruled",
  ],
  setup: async () => {
    const user = await h.db.user.findFirstOrThrow({ where: { role: "APPROVER" } });
    approver = { type: "USER", id: user.id, name: user.email ?? user.id };
    approverName = user.name ?? user.email ?? user.id;
    await setSkillEnabled(true, "group.announce");
    await untilApplied(h.policy, await setSkillEnabled(true)); // already on (bootstrap); waits for the snapshot
  },
  // Two replicas' queues on one database: duplicate jobs land on both.
  queue: { replicas: 2 },
});

const ticketPosts = () => h.api.requests.filter((r) => r.method === "POST" && r.path === "/tickets");
const sentTo = (conversationId: string) => h.fake.sent.filter((s) => s.conversationId === conversationId);
const executeJobs = () =>
  query<{ n: number }>(
    h.testDb.url,
    `SELECT count(*)::int AS n FROM graphile_worker.jobs WHERE task_identifier = 'approval.execute'`,
  );
const allJobsDone = () =>
  waitFor(async () => ((await executeJobs())[0]!.n === 0 ? true : undefined), 20_000, "approval jobs done");
const addDuplicateJobs = (approvalId: string, n: number) =>
  query(
    h.testDb.url,
    `SELECT graphile_worker.add_job('approval.execute', json_build_object('approvalId', $1::text)) FROM generate_series(1, $2::int)`,
    [approvalId, n],
  );

/** Asks the robot for a ticket; returns the PENDING request once the "waits for approval" reply arrived. */
async function requestTicket(conversationId: string, title: string, opts: { sessionWebhookExpired?: boolean } = {}) {
  const { status } = await h.fake.deliver({
    conversationId,
    text: `create a ticket in OPS: ${title}`,
    senderId: "user-1",
    ...opts,
  });
  expect(status).toBe(200);
  const [reply] = await h.fake.waitForReplies(conversationId, 1, 20_000);
  expect(reply!.text.toLowerCase()).toContain("waits for approval");
  const request = await h.db.approvalRequest.findFirstOrThrow({
    where: { conversationId, status: "PENDING" },
    orderBy: { createdAt: "desc" },
  });
  expect(request).toMatchObject({
    skillKey: "ticket.create",
    input: { project: "OPS", title, body: "" },
    requesterId: "user-1",
  });
  return request;
}

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error("expected a refusal");
    },
    (e: unknown) => {
      expect(e).toBeInstanceOf(DomainError);
      return e as DomainError;
    },
  );

describe("approvals", () => {
  it("approve: the ticket is created once and the requester told once, despite duplicate jobs on two replicas", async () => {
    const request = await requestTicket("cid-approve", "printer broken");
    const posts = ticketPosts().length;
    await decideApproval(h.db, approver, { id: request.id, approve: true, note: "go ahead" });
    await addDuplicateJobs(request.id, 4); // as a lost-and-found job or a sweep would add them, racing the decision's job

    const [reply] = await h.fake.waitForReplies("cid-approve", 1, 20_000);
    expect(reply!.text).toMatch(
      new RegExp(
        `^Your request ticket.create was approved by ${approverName} and done: Created ticket OPS-\\d+: http\\S+/tickets/OPS-\\d+$`,
      ),
    );
    await allJobsDone();
    // Exactly once: one POST (not merely one ticket thanks to the idempotency key), one answer.
    expect(ticketPosts()).toHaveLength(posts + 1);
    expect(ticketPosts().at(-1)!.body).toMatchObject({ project: "OPS", title: "printer broken", reporter: "user-1" });
    expect(ticketPosts().at(-1)!.idempotencyKey).toBe(`${request.traceId}:${request.id}`);
    expect(sentTo("cid-approve")).toHaveLength(2); // "waits for approval" + the result

    const row = await h.db.approvalRequest.findUniqueOrThrow({ where: { id: request.id } });
    expect(row).toMatchObject({
      status: "EXECUTED",
      decidedById: approver.id,
      decisionNote: "go ahead",
      result: { ok: true },
    });
    expect(row.executedAt).not.toBeNull();
    const calls = await h.db.skillInvocation.findMany({
      where: { conversationId: "cid-approve", skillKey: "ticket.create" },
      orderBy: { createdAt: "asc" },
    });
    expect(calls.map((c) => [c.decision, c.outcome])).toEqual([
      ["NEEDS_APPROVAL", "PENDING_APPROVAL"],
      ["ALLOW", "SUCCESS"],
    ]);
    expect(calls[1]).toMatchObject({
      traceId: request.traceId,
      userId: "user-1",
      inboundMessageId: calls[0]!.inboundMessageId,
    });
    expect(
      await query(h.testDb.url, `SELECT status FROM "OutboundMessage" WHERE "idempotencyKey" = $1`, [
        `approval:${request.id}`,
      ]),
    ).toEqual([{ status: "SENT" }]);

    // A decision after the fact is refused and changes nothing; a later sweep finds nothing to do.
    expect((await refusal(decideApproval(h.db, approver, { id: request.id, approve: false }))).reason).toBe(
      "already_decided",
    );
    expect(await sweepApprovals(h.db, { minAgeMs: 0 })).toEqual({ expired: 0, enqueued: 0 });
    expect((await h.db.approvalRequest.findUniqueOrThrow({ where: { id: request.id } })).status).toBe("EXECUTED");
  });

  it("reject: no ticket, the rejection with the approver's note through the OpenAPI group send, once", async () => {
    const request = await requestTicket("cid-reject", "more monitors", { sessionWebhookExpired: true });
    const posts = ticketPosts().length;
    await decideApproval(h.db, approver, { id: request.id, approve: false, note: "budget is frozen" });
    const [reply] = await h.fake.waitForReplies("cid-reject", 1, 20_000);
    expect(reply).toMatchObject({
      via: "groupMessages",
      text: `Your request ticket.create was rejected by ${approverName}: budget is frozen.`,
    });
    await addDuplicateJobs(request.id, 2);
    await allJobsDone();
    expect(sentTo("cid-reject")).toHaveLength(2);
    expect(ticketPosts()).toHaveLength(posts);
    expect(await h.db.approvalRequest.findUniqueOrThrow({ where: { id: request.id } })).toMatchObject({
      status: "REJECTED",
      executedAt: null,
      result: null,
    });
    expect((await refusal(decideApproval(h.db, approver, { id: request.id, approve: true }))).reason).toBe(
      "already_decided",
    );
    expect(await h.db.skillInvocation.count({ where: { conversationId: "cid-reject", decision: "ALLOW" } })).toBe(0);
  });

  it("expired: a decision is refused; the sweep expires it and tells the requester", async () => {
    const request = await requestTicket("cid-expire", "old request");
    await query(h.testDb.url, `UPDATE "ApprovalRequest" SET "expiresAt" = now() - interval '1 minute' WHERE id = $1`, [
      request.id,
    ]);
    const error = await refusal(decideApproval(h.db, approver, { id: request.id, approve: true }));
    expect(error.reason).toBe("expired");
    expect((await h.db.approvalRequest.findUniqueOrThrow({ where: { id: request.id } })).status).toBe("PENDING");

    expect((await sweepApprovals(h.db)).expired).toBe(1);
    const [reply] = await h.fake.waitForReplies("cid-expire", 1, 20_000);
    expect(reply!.text).toBe(`Your request ticket.create expired without a decision. Ask again if you still need it.`);
    expect((await h.db.approvalRequest.findUniqueOrThrow({ where: { id: request.id } })).status).toBe("EXPIRED");
    expect((await refusal(decideApproval(h.db, approver, { id: request.id, approve: true }))).reason).toBe("expired");
  });

  it("a skill disabled after the request is not run on approval; the reply says why", async () => {
    const request = await requestTicket("cid-disabled", "new laptop");
    const posts = ticketPosts().length;
    await untilApplied(h.policy, await setSkillEnabled(false));
    try {
      await decideApproval(h.db, approver, { id: request.id, approve: true });
      const [reply] = await h.fake.waitForReplies("cid-disabled", 1, 20_000);
      expect(reply!.text).toBe(
        `Your request ticket.create was approved by ${approverName} but not run: The skill "ticket.create" is disabled.`,
      );
      expect(ticketPosts()).toHaveLength(posts);
      expect(await h.db.approvalRequest.findUniqueOrThrow({ where: { id: request.id } })).toMatchObject({
        status: "INVALIDATED",
        result: { ok: false, refused: true, reasons: ["skill.disabled"] },
      });
      const denied = await h.db.skillInvocation.findFirstOrThrow({
        where: { conversationId: "cid-disabled", decision: "DENY" },
      });
      expect(denied).toMatchObject({ outcome: "DENIED", reasons: ["skill.disabled"] });
    } finally {
      await untilApplied(h.policy, await setSkillEnabled(true));
    }
  });

  it("arguments edited after the request (bound fields): INVALIDATED, not run, audited, the requester told", async () => {
    const request = await requestTicket("cid-tampered", "one laptop");
    const posts = ticketPosts().length;
    // Nobody may edit the arguments; someone with database access did anyway.
    await query(
      h.testDb.url,
      `UPDATE "ApprovalRequest" SET input = jsonb_set(input, '{title}', '"ten laptops"') WHERE id = $1`,
      [request.id],
    );
    await decideApproval(h.db, approver, { id: request.id, approve: true });
    const [reply] = await h.fake.waitForReplies("cid-tampered", 1, 20_000);
    expect(reply!.text).toMatch(
      /^Your request ticket.create was approved by .+ but not run: what was approved no longer matches/,
    );
    await allJobsDone();
    expect(ticketPosts()).toHaveLength(posts);
    expect(await h.db.approvalRequest.findUniqueOrThrow({ where: { id: request.id } })).toMatchObject({
      status: "INVALIDATED",
      result: { ok: false, refused: true, reasons: ["binding.changed"] },
    });
    expect(
      await h.db.auditLog.findFirstOrThrow({ where: { action: "approval.invalidate", targetId: request.id } }),
    ).toMatchObject({ diff: { reasons: ["binding.changed"], status: { to: "INVALIDATED" } } });
  });

  it("a rule changed to deny after the request: INVALIDATED, not run", async () => {
    const request = await requestTicket("cid-ruled", "desk");
    const posts = ticketPosts().length;
    const revision = await h.db.$transaction(async (tx) => {
      await tx.skillRule.create({
        data: { skillKey: "ticket.create", scope: "CONVERSATION", subject: "cid-ruled", effect: "DENY" },
      });
      return recordConfigChange(tx, {
        actor: SYSTEM,
        action: "skill.rule.add",
        targetType: "skill",
        targetId: "ticket.create",
        summary: "deny in cid-ruled",
      });
    });
    await untilApplied(h.policy, revision);
    await decideApproval(h.db, approver, { id: request.id, approve: true });
    const [reply] = await h.fake.waitForReplies("cid-ruled", 1, 20_000);
    expect(reply!.text).toMatch(/but not run: /);
    expect(ticketPosts()).toHaveLength(posts);
    expect((await h.db.approvalRequest.findUniqueOrThrow({ where: { id: request.id } })).status).toBe("INVALIDATED");
  });

  it("safe mode switched on after the request: not run on approval; the reply says why", async () => {
    const request = await requestTicket("cid-readonly", "rack power");
    const posts = ticketPosts().length;
    await untilApplied(
      h.policy,
      await setSafeMode(h.db, { level: "READ_ONLY", message: "Incident 42: read-only for now." }),
    );
    try {
      await decideApproval(h.db, approver, { id: request.id, approve: true });
      const [reply] = await h.fake.waitForReplies("cid-readonly", 1, 20_000);
      expect(reply!.text).toBe(
        `Your request ticket.create was approved by ${approverName} but not run: Incident 42: read-only for now.`,
      );
      expect(ticketPosts()).toHaveLength(posts);
    } finally {
      await untilApplied(h.policy, await setSafeMode(h.db, null));
    }
  });

  it("a decision whose job never ran (no queue schema then, or lost) is executed by the sweep", async () => {
    const request = await requestTicket("cid-lost", "lost job");
    const posts = ticketPosts().length;
    // What decideApproval leaves when the graphile_worker schema does not exist: APPROVED, no job.
    await query(
      h.testDb.url,
      `UPDATE "ApprovalRequest" SET status = 'APPROVED', "decidedAt" = now(), "updatedAt" = now() - interval '1 minute' WHERE id = $1`,
      [request.id],
    );
    expect(await sweepApprovals(h.db)).toEqual({ expired: 0, enqueued: 1 });
    const [reply] = await h.fake.waitForReplies("cid-lost", 1, 20_000);
    expect(reply!.text).toContain("and done: Created ticket OPS-");
    expect(ticketPosts()).toHaveLength(posts + 1);
    await allJobsDone();
    expect(await sweepApprovals(h.db, { minAgeMs: 0 })).toEqual({ expired: 0, enqueued: 0 });
  });

  it("group.announce: the approved announcement is posted in the named group once, and the requester told", async () => {
    await h.fake.deliver({
      conversationId: "cid-announce",
      text: "announce in cid-all-hands: Deploy **tonight** at 22:00",
      senderId: "user-2",
    });
    const [waiting] = await h.fake.waitForReplies("cid-announce", 1, 20_000);
    expect(waiting!.text.toLowerCase()).toContain("waits for approval");
    const request = await h.db.approvalRequest.findFirstOrThrow({
      where: { conversationId: "cid-announce", status: "PENDING" },
    });
    expect(request).toMatchObject({
      skillKey: "group.announce",
      input: { conversationId: "cid-all-hands", title: "Announcement", text: "Deploy **tonight** at 22:00" },
    });
    expect(sentTo("cid-all-hands")).toHaveLength(0); // nothing goes out before the grant

    await decideApproval(h.db, approver, { id: request.id, approve: true });
    await addDuplicateJobs(request.id, 3);
    const [reply] = await h.fake.waitForReplies("cid-announce", 1, 20_000);
    expect(reply!.text).toBe(
      `Your request group.announce was approved by ${approverName} and done: Announcement "Announcement" posted in cid-all-hands.`,
    );
    await allJobsDone();
    expect(sentTo("cid-all-hands")).toEqual([
      expect.objectContaining({
        via: "groupMessages",
        msgKey: "sampleMarkdown",
        title: "Announcement",
        text: "Deploy **tonight** at 22:00",
      }),
    ]);
    expect(
      await h.db.auditLog.count({
        where: { action: "message.announce", targetId: "cid-all-hands", traceId: `${request.traceId}:${request.id}` },
      }),
    ).toBe(1);
  });

  it("group.announce with no group named: the request stores this conversation, so the approver sees where it goes", async () => {
    await h.fake.deliver({ conversationId: "cid-announce", text: "announce: lunch is at 12", senderId: "user-2" });
    const [waiting] = await h.fake.waitForReplies("cid-announce", 1, 20_000);
    expect(waiting!.text.toLowerCase()).toContain("waits for approval");
    const request = await h.db.approvalRequest.findFirstOrThrow({
      where: { conversationId: "cid-announce", status: "PENDING" },
    });
    expect(request.input).toEqual({ conversationId: "cid-announce", title: "Announcement", text: "lunch is at 12" });
    await decideApproval(h.db, approver, { id: request.id, approve: false, note: "not now" });
    await h.fake.waitForReplies("cid-announce", 1, 20_000);
  });

  it("group.announce into a group the robot does not know: approved but not posted, and the reply says why", async () => {
    await h.fake.deliver({
      conversationId: "cid-announce",
      text: "announce in cid-elsewhere: hello",
      senderId: "user-2",
    });
    const [waiting] = await h.fake.waitForReplies("cid-announce", 1, 20_000);
    expect(waiting!.text.toLowerCase()).toContain("waits for approval");
    const request = await h.db.approvalRequest.findFirstOrThrow({
      where: { conversationId: "cid-announce", status: "PENDING" },
    });
    await decideApproval(h.db, approver, { id: request.id, approve: true });
    const [reply] = await h.fake.waitForReplies("cid-announce", 1, 20_000);
    expect(reply!.text).toMatch(
      /^Your request group.announce was approved by .+ but failed: group.announce failed: the robot does not know the group "cid-elsewhere"/,
    );
    expect(sentTo("cid-elsewhere")).toHaveLength(0);
    expect(await h.db.approvalRequest.findUniqueOrThrow({ where: { id: request.id } })).toMatchObject({
      status: "FAILED",
    });
  });

  it("bad input, an unknown request or a viewer's decision change nothing and enqueue nothing", async () => {
    const request = await requestTicket("cid-bad", "should stay pending");
    await allJobsDone();
    const viewer = await h.db.user.findFirstOrThrow({ where: { role: "VIEWER" } });
    const audits = await h.db.auditLog.count();
    expect((await refusal(decideApproval(h.db, approver, { id: " ", approve: true }))).reason).toBe("invalid_input");
    expect(
      (await refusal(decideApproval(h.db, approver, { id: request.id, approve: true, note: "n".repeat(5_000) })))
        .reason,
    ).toBe("invalid_input");
    expect((await refusal(decideApproval(h.db, approver, { id: "nope", approve: true }))).reason).toBe("not_found");
    expect(
      (
        await refusal(
          decideApproval(h.db, { type: "USER", id: viewer.id, name: "viewer" }, { id: request.id, approve: true }),
        )
      ).reason,
    ).toBe("forbidden");
    expect(await h.db.approvalRequest.findUniqueOrThrow({ where: { id: request.id } })).toMatchObject({
      status: "PENDING",
      decidedAt: null,
      decidedById: null,
    });
    expect(await h.db.auditLog.count()).toBe(audits);
    expect((await executeJobs())[0]!.n).toBe(0);
    // A job with a payload no attempt could make valid is dropped, not retried.
    await query(h.testDb.url, `SELECT graphile_worker.add_job('approval.execute', '{"approval": 1}'::json)`);
    await allJobsDone();
    await new Promise((r) => setTimeout(r, 500));
    expect(sentTo("cid-bad")).toHaveLength(1);
  });
});

/**
 * Approvals: the console's list and decisions on requests made in the database, then the whole
 * loop with real parts: a chat user asks the robot (through the fake DingTalk) for a write, an
 * approver decides in the console, the runtime runs it once and answers in the conversation.
 */
import type { BrowserContext, Page } from "@playwright/test";
import type { Db } from "@clawgate/db";
import { expect, STORAGE_STATE, test } from "./fixtures.ts";
import { signedInContext } from "./sign-in.ts";
import { E2E, robotSent, sayToRobot, untilRobotApplied } from "./stack.ts";

// The approver's stored sign-in (auth.setup.ts) unless a test says otherwise.
test.use({ storageState: STORAGE_STATE.APPROVER });

/** A pending request as the runtime's agent creates one (apps/bot/src/agent/tool-call.ts). */
async function pendingRequest(db: Db, title: string) {
  return db.$transaction(async (tx) => {
    const invocation = await tx.skillInvocation.create({
      data: {
        traceId: `e2e-${title}`,
        conversationId: "cid-demo-group",
        userId: "staff-e2e",
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
        conversationId: "cid-demo-group",
        requesterId: "staff-e2e",
        input: { title, priority: "high" },
        expiresAt: new Date(Date.now() + 60 * 60_000),
        traceId: `e2e-${title}`,
        configRevision: 1,
      },
    });
  });
}

test("an approver approves a pending request with a note; it is stored with the decider and audited", async ({
  tag,
  page,
  db,
}, testInfo) => {
  const title = `Printer on fire ${tag}`;
  const request = await pendingRequest(db, title);
  await page.goto("/approvals");
  await expect(page.getByRole("heading", { name: "Approvals", level: 1 })).toBeVisible();

  const card = page.getByRole("listitem").filter({ hasText: title });
  await expect(card.getByText("PENDING", { exact: true })).toBeVisible();
  await expect(card.getByText(/Requested by staff-e2e in Clawgate demo group/)).toBeVisible();
  await expect(card.getByLabel("Input of the ticket.create request")).toContainText(`"title": "${title}"`);
  await expect(card.getByText(/expires in (59 minutes|60 minutes|1 hour)/)).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("approvals.png"), fullPage: true });

  await card.getByRole("button", { name: "Approve" }).click();
  const dialog = page.getByRole("dialog", { name: "Approve ticket.create?" });
  await dialog.getByLabel(/Note/).fill("ok, urgent");
  await dialog.getByRole("button", { name: "Approve" }).click();
  await expect(page.getByRole("status").filter({ hasText: "request approved" })).toBeVisible();
  // The runtime runs beside the console: the card may already show what it did (the skill is
  // disabled here, so FAILED: approved but not run).
  await expect(card.getByText(/^(APPROVED|EXECUTED|FAILED|INVALIDATED)$/)).toBeVisible();
  await expect(card.getByRole("button", { name: "Approve" })).toHaveCount(0);

  const stored = await db.approvalRequest.findUniqueOrThrow({
    where: { id: request.id },
    include: { decidedBy: true },
  });
  // The runtime may already have executed it (EXECUTED/FAILED) when it runs beside the console.
  expect(["APPROVED", "EXECUTED", "FAILED", "INVALIDATED"]).toContain(stored.status);
  expect(stored).toMatchObject({ decisionNote: "ok, urgent" });
  expect(stored.decidedBy?.email).toBe("approver@clawgate.local");
  const audit = await db.auditLog.findFirstOrThrow({ where: { action: "approval.approve", targetId: request.id } });
  expect(audit.actorName).toBe("approver@clawgate.local");
  expect(JSON.stringify(audit.diff)).not.toContain(title); // metadata only, never the input

  // The status filter narrows the list.
  await page.getByRole("button", { name: /^Pending/ }).click();
  await expect(page.getByRole("listitem").filter({ hasText: title })).toHaveCount(0);

  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole("button", { name: "All" }).click();
  await expect(card).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("approvals-mobile.png"), fullPage: true });
});

test.describe("as viewer", () => {
  test.use({ storageState: STORAGE_STATE.VIEWER });

  test("a viewer sees pending requests but no approve or reject button", async ({ tag, page, db }, testInfo) => {
    const title = `Viewer sees ${tag}`;
    const request = await pendingRequest(db, title);
    await page.goto("/approvals");
    const card = page.getByRole("listitem").filter({ hasText: title });
    await expect(card.getByText("PENDING", { exact: true })).toBeVisible();
    // (the "Approved" / "Rejected" filter chips are not decisions)
    await expect(page.getByRole("button", { name: "Approve", exact: true })).toHaveCount(0);
    await expect(page.getByRole("button", { name: "Reject", exact: true })).toHaveCount(0);
    await expect(page.locator("[data-mutates]")).toHaveCount(0);
    await page.screenshot({ path: testInfo.outputPath("approvals-viewer.png"), fullPage: true });
    expect(await db.approvalRequest.findUniqueOrThrow({ where: { id: request.id } })).toMatchObject({
      status: "PENDING",
    });
  });
});

// ---- The whole loop: robot -> approval request -> console decision -> runtime -> reply ----

const CONVERSATION = "cid-demo-group";
const REQUESTER = "u-e2e-requester";
const WRITE_SKILL = "ticket.create";

interface InternalApiRequest {
  method: string;
  path: string;
  idempotencyKey?: string;
  body?: { project?: string; title?: string; reporter?: string };
}

/** The ticket creations the fake internal API has received (it creates a ticket only on these). */
async function ticketCreations(): Promise<InternalApiRequest[]> {
  const res = await fetch(new URL("/_fake/requests", E2E.internalApiUrl));
  const { requests } = (await res.json()) as { requests: InternalApiRequest[] };
  return requests.filter((r) => r.method === "POST" && r.path === "/tickets");
}

/** Asks the robot for a ticket and returns the approval request it made. */
async function askForTicket(db: Db, title: string) {
  const replies = await sayToRobot(`create a ticket in OPS: ${title}`, {
    conversationId: CONVERSATION,
    senderId: REQUESTER,
  });
  const text = replies.map((r) => r.text).join("\n");
  // One clear line, without the internal request id.
  expect(text).toContain("This action waits for approval; I will reply here once an approver has decided.");
  expect(text.match(/waits for approval/g)).toHaveLength(1);
  // The input is encrypted at rest: found by its conversation and requester, matched in clear here.
  const candidates = await db.approvalRequest.findMany({
    where: { conversationId: CONVERSATION, requesterId: REQUESTER },
    orderBy: { createdAt: "desc" },
    take: 50,
  });
  const request = candidates.find((r) => (r.input as { title?: string } | null)?.title === title);
  if (!request) throw new Error(`no approval request for "${title}"`);
  expect(text).not.toContain(request.id);
  expect(request).toMatchObject({
    status: "PENDING",
    skillKey: WRITE_SKILL,
    conversationId: CONVERSATION,
    requesterId: REQUESTER,
    input: { project: "OPS", title },
  });
  return request;
}

/**
 * Waits until the runtime is done with the request: its `approval.execute` job is gone and the
 * answer's outbound row (key `approval:<id>`) is SENT. Then returns the answers about a request
 * the robot sent in the conversation after `sentBefore` messages.
 */
async function answersAbout(db: Db, requestId: string, sentBefore: number): Promise<string[]> {
  await expect
    .poll(
      async () => {
        const [job] = await db.$queryRaw<
          { n: number }[]
        >`SELECT count(*)::int AS n FROM graphile_worker.jobs WHERE key = ${`approval:${requestId}`}`;
        const outbound = await db.outboundMessage.findUnique({
          where: { idempotencyKey: `approval:${requestId}` },
          select: { status: true },
        });
        return { jobs: job?.n, outbound: outbound?.status };
      },
      { timeout: 20_000 },
    )
    .toEqual({ jobs: 0, outbound: "SENT" });
  const sent = await robotSent(CONVERSATION);
  return sent
    .slice(sentBefore)
    .map((m) => m.text)
    .filter((t) => t.startsWith("Your request "));
}

/** Opens Approvals as the approver and decides the request with this title, with a note. */
async function decide(
  page: Page,
  title: string,
  verdict: "Approve" | "Reject",
  note: string,
  screenshot?: string,
): Promise<void> {
  await page.goto("/approvals");
  const card = page.getByRole("listitem").filter({ hasText: title });
  await expect(card.getByText("PENDING", { exact: true })).toBeVisible();
  await expect(card.getByText(new RegExp(`Requested by ${REQUESTER} in Clawgate demo group`))).toBeVisible();
  if (screenshot) await card.screenshot({ path: screenshot });
  await card.getByRole("button", { name: verdict, exact: true }).click();
  const dialog = page.getByRole("dialog", { name: `${verdict} ${WRITE_SKILL}?` });
  await dialog.getByLabel(/Note/).fill(note);
  await dialog.getByRole("button", { name: verdict, exact: true }).click();
  await expect(
    page
      .getByRole("status")
      .filter({ hasText: `${WRITE_SKILL} request ${verdict === "Approve" ? "approved" : "rejected"}` }),
  ).toBeVisible();
}

test.describe("the approval loop through the robot", () => {
  test.describe.configure({ mode: "serial" });
  let admin: { context: BrowserContext; page: Page } | undefined;
  let approver: { context: BrowserContext; page: Page } | undefined;

  // ticket.create ships enabled with approval required (bootstrap): the admin sees it so on the Skills page.
  test.beforeAll(async ({ browser, db }, testInfo) => {
    admin = await signedInContext(browser, "ADMIN");
    await admin.page.goto("/skills");
    await expect(admin.page.getByRole("switch", { name: `Enabled: ${WRITE_SKILL}` })).toHaveAttribute(
      "aria-checked",
      "true",
    );
    await admin.page.screenshot({ path: testInfo.outputPath("approval-loop-skill-enabled.png"), fullPage: true });
    expect(await db.skill.findUniqueOrThrow({ where: { key: WRITE_SKILL } })).toMatchObject({
      enabled: true,
      requiresApproval: true,
    });
    await untilRobotApplied(db);
    approver = await signedInContext(browser, "APPROVER");
  });

  test.afterAll(async () => {
    for (const c of [admin, approver]) await c?.context.close();
  });

  test("a chat user's ticket waits for approval; the approver approves it; it runs once and the requester is told once", async ({
    tag,
    db,
  }, testInfo) => {
    const title = `Projector flickers ${tag}`;
    const creationsBefore = (await ticketCreations()).length;
    const request = await askForTicket(db, title);
    expect(await ticketCreations()).toHaveLength(creationsBefore); // nothing ran yet
    const sentBefore = (await robotSent(CONVERSATION)).length;

    const page = approver!.page;
    await decide(page, title, "Approve", "go ahead, e2e", testInfo.outputPath("approval-loop-pending.png"));
    await page.screenshot({ path: testInfo.outputPath("approval-loop-approved.png"), fullPage: true });

    // Exactly one answer in the original conversation, saying it was done.
    const answers = await answersAbout(db, request.id, sentBefore);
    expect(answers).toHaveLength(1);
    expect(answers[0]).toMatch(
      new RegExp(
        `^Your request ${WRITE_SKILL} was approved by (Ari Approver|approver@clawgate\\.local) and done: Created ticket OPS-`,
      ),
    );

    // Exactly one ticket: one POST /tickets, with the request's input and idempotency key.
    const creations = (await ticketCreations()).slice(creationsBefore);
    expect(creations).toHaveLength(1);
    expect(creations[0]).toMatchObject({
      idempotencyKey: `${request.traceId}:${request.id}`,
      body: { project: "OPS", title, reporter: REQUESTER },
    });
    const ticketId = /Created ticket (OPS-\d+)/.exec(answers[0]!)![1]!;
    const ticket = (await (await fetch(new URL(`/tickets/${ticketId}`, E2E.internalApiUrl))).json()) as {
      title: string;
    };
    expect(ticket.title).toBe(title);

    const stored = await db.approvalRequest.findUniqueOrThrow({
      where: { id: request.id },
      include: { decidedBy: true },
    });
    expect(stored).toMatchObject({ status: "EXECUTED", decisionNote: "go ahead, e2e", result: { ok: true } });
    expect(stored.decidedBy?.email).toBe("approver@clawgate.local");
    const runs = await db.skillInvocation.findMany({
      where: { traceId: request.traceId, skillKey: WRITE_SKILL },
      orderBy: { createdAt: "asc" },
    });
    expect(runs.map((r) => [r.decision, r.outcome])).toEqual([
      ["NEEDS_APPROVAL", "PENDING_APPROVAL"],
      ["ALLOW", "SUCCESS"],
    ]);

    // The console shows the outcome after a reload.
    await page.reload();
    const card = page.getByRole("listitem").filter({ hasText: title });
    await expect(card.getByText("EXECUTED", { exact: true })).toBeVisible();
    await expect(card.getByText(/decided .+ by (Ari Approver|approver@clawgate\.local) · executed/)).toBeVisible();
    await card.screenshot({ path: testInfo.outputPath("approval-loop-executed.png") });
  });

  test("the approver rejects a chat user's ticket: nothing runs and the requester gets the rejection with the note", async ({
    tag,
    db,
  }, testInfo) => {
    const title = `Coffee machine leaks ${tag}`;
    const creationsBefore = (await ticketCreations()).length;
    const request = await askForTicket(db, title);
    const sentBefore = (await robotSent(CONVERSATION)).length;

    const page = approver!.page;
    await decide(page, title, "Reject", "call facilities instead");

    const answers = await answersAbout(db, request.id, sentBefore);
    expect(answers).toHaveLength(1);
    expect(answers[0]).toMatch(
      new RegExp(
        `^Your request ${WRITE_SKILL} was rejected by (Ari Approver|approver@clawgate\\.local): call facilities instead\\.$`,
      ),
    );
    expect((await ticketCreations()).slice(creationsBefore)).toHaveLength(0);
    expect(await db.approvalRequest.findUniqueOrThrow({ where: { id: request.id } })).toMatchObject({
      status: "REJECTED",
      decisionNote: "call facilities instead",
      executedAt: null,
    });
    expect(await db.skillInvocation.count({ where: { traceId: request.traceId, outcome: "SUCCESS" } })).toBe(0);

    await page.reload();
    const card = page.getByRole("listitem").filter({ hasText: title });
    await expect(card.getByText("REJECTED", { exact: true })).toBeVisible();
    await expect(card.getByText("call facilities instead")).toBeVisible();
    await card.screenshot({ path: testInfo.outputPath("approval-loop-rejected.png") });
  });

  test("an approver approves from the DingTalk card: it runs once, and the console shows who decided, on the card", async ({
    db,
  }, testInfo) => {
    // The runtime reads these on the request (a real install sets them with `clawgate onboard`).
    const approverUser = await db.user.findFirstOrThrow({ where: { email: "approver@clawgate.local" } });
    await db.user.update({ where: { id: approverUser.id }, data: { dingtalkUserId: "dt-e2e-approver" } });
    await db.configSection.upsert({
      where: { key: "approvals" },
      create: { key: "approvals", value: { card_template_id: "tpl.e2e", approver_chats: ["cid-e2e-approvers"] } },
      update: { value: { card_template_id: "tpl.e2e", approver_chats: ["cid-e2e-approvers"] } },
    });
    await db.featureFlag.update({ where: { key: "approvals.dingtalk_cards" }, data: { enabled: true } });
    try {
      const title = `Whiteboard cracked ${Date.now().toString(36)}`;
      const creationsBefore = (await ticketCreations()).length;
      const request = await askForTicket(db, title);
      const sentBefore = (await robotSent(CONVERSATION)).length;

      type Card = { outTrackId: string; params: Record<string, string>; spaces: string[] };
      const card = async () => {
        const res = await fetch(new URL("/_fake/cards", E2E.fakeDingtalkUrl));
        return ((await res.json()) as { cards: Card[] }).cards.find((c) => c.outTrackId === request.id);
      };
      await expect.poll(async () => (await card())?.params.status, { timeout: 20_000 }).toBe("PENDING");
      expect((await card())!).toMatchObject({
        spaces: ["dtv1.card//IM_GROUP.cid-e2e-approvers"],
        params: { requester: REQUESTER, conversation: "Clawgate demo group", skill: WRITE_SKILL },
      });

      // The approver clicks Approve in DingTalk: a signed HTTP callback to the runtime.
      const click = await fetch(new URL("/_fake/card/click", E2E.fakeDingtalkUrl), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ outTrackId: request.id, userId: "dt-e2e-approver", action: "approve" }),
      });
      expect(click.status).toBe(200);
      expect(await click.json()).toMatchObject({
        status: 200,
        response: { userPrivateData: { cardParamMap: { message: "You approved this request; it runs now." } } },
      });

      const answers = await answersAbout(db, request.id, sentBefore);
      expect(answers).toHaveLength(1);
      expect(answers[0]).toContain("and done: Created ticket OPS-");
      expect((await ticketCreations()).slice(creationsBefore)).toHaveLength(1);
      await expect.poll(async () => (await card())?.params.status, { timeout: 20_000 }).toBe("EXECUTED");

      const page = approver!.page;
      await page.goto("/approvals");
      const item = page.getByRole("listitem").filter({ hasText: title });
      await expect(item.getByText("EXECUTED", { exact: true })).toBeVisible();
      await expect(item.getByTestId("approval-votes")).toHaveText(
        /approved by (Ari Approver|approver@clawgate\.local) \(DingTalk card\)/,
      );
      await item.screenshot({ path: testInfo.outputPath("approval-card-decided.png") });
    } finally {
      await db.featureFlag.update({ where: { key: "approvals.dingtalk_cards" }, data: { enabled: false } });
      await db.configSection.deleteMany({ where: { key: "approvals" } });
      await db.user.update({ where: { id: approverUser.id }, data: { dingtalkUserId: null } });
    }
  });
});

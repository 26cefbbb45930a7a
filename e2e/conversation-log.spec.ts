/**
 * The conversation log: an admin opens it from the Conversations page and reads the texts (the
 * view is audited with the message ids); a viewer gets metadata only, and the texts are not in
 * what the server sends. The Audit log finds an entry by trace id, shows names beside ids, and
 * exports the filtered view as CSV.
 */
import { readFile } from "node:fs/promises";
import { appendAudit } from "@clawgate/core";
import { expect, STORAGE_STATE, test } from "./fixtures.ts";

let convId = "";
let cid = "";
let title = "";
let trace = "";
const SECRET = "please reset the VPN for Lin";

test.beforeAll(async ({ db }) => {
  const tag = Math.random().toString(36).slice(2, 10);
  cid = `cid-log-${tag}`;
  title = `Log room ${tag}`;
  trace = `trace-log-${tag}`;
  const conv = await db.conversation.create({
    data: { conversationId: cid, title, type: "GROUP", status: "ENABLED", lastSeenAt: new Date() },
  });
  convId = conv.id;
  for (let i = 0; i < 3; i++) {
    await db.inboundMessage.create({
      data: {
        id: `log-${tag}-${i}`,
        robotCode: "e2e",
        msgId: `log-${tag}-${i}`,
        channel: "HTTP",
        conversationId: cid,
        senderId: "demo-user",
        msgType: "text",
        payload: { msgtype: "text", text: { content: `${SECRET} #${i}` }, senderNick: "Demo User" },
        status: "REPLIED",
        traceId: i === 2 ? trace : `${trace}-${i}`,
        processedAt: new Date(Date.now() + 500),
        model: "local_chat/demo",
        configRevision: 1,
        modelCalls: 1,
        promptTokens: 321,
        completionTokens: 12,
        outbound: {
          create: {
            idempotencyKey: `log-${tag}-${i}`,
            conversationId: cid,
            channel: "SESSION_WEBHOOK",
            msgType: "text",
            payload: { msgtype: "text", text: { content: `Done: ${SECRET} #${i}` } },
            status: "SENT",
            traceId: trace,
          },
        },
        invocations: {
          create: {
            traceId: trace,
            conversationId: cid,
            userId: "demo-user",
            skillKey: "ticket.create",
            decision: "DENY",
            reasons: ["rule.deny.conversation"],
            outcome: "DENIED",
            configRevision: 1,
          },
        },
      },
    });
  }
  await db.$transaction((tx) =>
    appendAudit(tx, {
      actor: { type: "CLI", name: `=ops-${tag}, "night"` },
      action: "conversation.update",
      targetType: "conversation",
      targetId: cid,
      diff: { status: { from: "PENDING", to: "ENABLED" } },
      traceId: trace,
    }),
  );
});

test.describe("as ADMIN", () => {
  test.use({ storageState: STORAGE_STATE.ADMIN });

  test("opens the log from Conversations, reads the texts, and the view is audited", async ({ page, db }) => {
    await page.goto("/conversations");
    await page.getByRole("link", { name: `Log of ${title}` }).click();
    await expect(page).toHaveURL(new RegExp(`/conversations/${convId}/log$`));
    const rows = page.getByTestId("log-row");
    await expect(rows).toHaveCount(3);
    await expect(rows.first()).toContainText(`${SECRET} #2`);
    await expect(rows.first()).toContainText(`Done: ${SECRET} #2`);
    await expect(rows.first()).toContainText("ticket.create");
    await expect(rows.first()).toContainText("denied");
    await expect(rows.first()).toContainText("rule.deny.conversation");
    await expect(rows.first()).toContainText("local_chat/demo");
    await expect(rows.first()).toContainText(trace);

    // One audit entry for the view: the conversation and the messages shown, not the text.
    await expect.poll(() => db.auditLog.count({ where: { action: "conversation.log_view", targetId: cid } })).toBe(1);
    const view = await db.auditLog.findFirstOrThrow({ where: { action: "conversation.log_view", targetId: cid } });
    expect((view.diff as { messageIds: string[] }).messageIds).toHaveLength(3);
    expect(JSON.stringify(view.diff)).not.toContain(SECRET);

    // Search by trace id.
    await page.getByLabel("Trace id").fill(trace);
    await page.getByRole("button", { name: "Apply filters" }).click();
    await expect(rows).toHaveCount(1);
  });

  test("finds by trace id in the Audit log, with names beside ids, and exports it as CSV", async ({ page, db }) => {
    await page.goto("/audit");
    await page.getByLabel("Trace id").fill(trace);
    await page.getByRole("button", { name: "Apply filters" }).click();
    const rows = page.getByRole("table").locator("tbody tr");
    await expect(rows).toHaveCount(1);
    await expect(rows.first()).toContainText("conversation.update");
    await expect(rows.first()).toContainText(title); // the conversation's title beside its id

    const exports = await db.auditLog.count({ where: { action: "audit.export" } });
    const download = page.waitForEvent("download");
    await page.getByRole("link", { name: "Export CSV" }).click();
    const file = await download;
    expect(file.suggestedFilename()).toMatch(/^clawgate-audit-.*\.csv$/);
    const csv = await readFile((await file.path())!, "utf8");
    const lines = csv.trimEnd().split("\r\n");
    expect(lines[0]).toBe(
      "id,at,actorType,actorId,actorEmail,actorName,action,targetType,targetId,targetName,diff,traceId,configRevision,prevHash,hash",
    );
    expect(lines).toHaveLength(2);
    // The formula-looking actor name is defused and quoted; the title stands beside the id.
    expect(lines[1]).toContain(`"'=ops-`);
    expect(lines[1]).toContain(`""night"""`);
    expect(lines[1]).toContain(`,${cid},${title},`);
    expect(await db.auditLog.count({ where: { action: "audit.export" } })).toBe(exports + 1);
  });
});

test.describe("as VIEWER", () => {
  test.use({ storageState: STORAGE_STATE.VIEWER });

  test("sees metadata only: no text on the page or in the server's answer", async ({ page, db }) => {
    const views = await db.auditLog.count({ where: { action: "conversation.log_view", targetId: cid } });
    const answer = page.waitForResponse((r) => r.url().includes("conversationLog.get"));
    await page.goto(`/conversations/${convId}/log`);
    const body = await (await answer).text();
    expect(body).toContain(trace);
    expect(body).not.toContain(SECRET);
    const rows = page.getByTestId("log-row");
    await expect(rows).toHaveCount(3);
    await expect(page.getByRole("note")).toContainText("Metadata only");
    await expect(rows.first()).toContainText("text hidden for your role");
    await expect(rows.first()).toContainText("ticket.create");
    await expect(page.locator("body")).not.toContainText(SECRET);
    expect(await db.auditLog.count({ where: { action: "conversation.log_view", targetId: cid } })).toBe(views);
    // No export for a viewer: not offered, and the server refuses it.
    await page.goto("/audit");
    await expect(page.getByRole("link", { name: "Export CSV" })).toHaveCount(0);
    const refused = await page.request.get("/api/audit/export?format=csv");
    expect(refused.status()).toBe(403);
  });
});

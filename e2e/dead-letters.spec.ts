/**
 * Dead letters on the Overview: a message the runtime gave up on shows with its reason, trace
 * id and time to every role; an operator retries it (the message goes back on the queue,
 * audited) and a viewer gets no Retry button. The letter and its message are written straight
 * to the database, as the runtime would, and removed afterwards.
 */
import { randomBytes } from "node:crypto";
import { expect, STORAGE_STATE, test } from "./fixtures.ts";
import { signedInContext } from "./sign-in.ts";

const tag = randomBytes(4).toString("hex");
const traceId = `e2e-dl-${tag}`;

// The operator's stored sign-in (auth.setup.ts).
test.use({ storageState: STORAGE_STATE.OPERATOR });

test.afterAll(async ({ db }) => {
  await db.deadLetter.deleteMany({ where: { traceId } });
  await db.inboundMessage.deleteMany({ where: { traceId } });
  // The retried job's run records the conversation (as pending): not for other specs to see.
  await db.conversation.deleteMany({ where: { conversationId: `cid-e2e-dl-${tag}` } });
});

test("an operator sees a dead letter's reason, trace id and time on the Overview and retries it", async ({
  browser,
  page,
  db,
}) => {
  const inbound = await db.inboundMessage.create({
    data: {
      robotCode: `e2e-${tag}`,
      msgId: `msg-${tag}`,
      channel: "HTTP",
      conversationId: `cid-e2e-dl-${tag}`,
      senderId: "e2e-user",
      msgType: "text",
      payload: {
        msgId: `msg-${tag}`,
        createAt: Date.now(),
        conversationType: "2",
        conversationId: `cid-e2e-dl-${tag}`,
        senderId: "e2e-user",
        msgtype: "text",
        text: { content: "hi" },
      },
      traceId,
      status: "FAILED",
    },
  });
  const letter = await db.deadLetter.create({
    data: {
      source: "INBOUND_JOB",
      reason: `the same error twice: injected ${tag}`,
      traceId,
      inboundMessageId: inbound.id,
      attempts: 2,
    },
  });

  // A viewer (a context of its own) sees it without a Retry button.
  const viewer = await signedInContext(browser, "VIEWER");
  try {
    const card = viewer.page.getByRole("region", { name: "Dead letters" });
    await expect(card).toContainText(`the same error twice: injected ${tag}`);
    await expect(card).toContainText(traceId);
    await expect(card.getByRole("button", { name: "Retry" })).toHaveCount(0);
  } finally {
    await viewer.context.close();
  }

  await page.goto("/overview");
  const item = page.getByRole("region", { name: "Dead letters" }).getByRole("listitem").filter({ hasText: traceId });
  await item.getByRole("button", { name: "Retry" }).click();
  await expect(page.getByTestId("dead-letters").getByRole("status")).toContainText(`Dead letter ${letter.id} retried`);
  await expect(page.getByRole("region", { name: "Dead letters" })).not.toContainText(traceId);
  expect(await db.deadLetter.findUniqueOrThrow({ where: { id: letter.id } })).toMatchObject({
    status: "RETRIED",
    retriedBy: "operator@clawgate.local",
  });
  expect(
    await db.auditLog.count({ where: { action: "dead_letter.retry", targetId: letter.id, actorType: "USER" } }),
  ).toBe(1);
});

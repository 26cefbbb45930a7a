/**
 * Conversations: an operator finds a new (pending) group, enables it, moves it to TEST and
 * disables it behind a confirmation; each change is one config revision with its audit entry. A
 * viewer sees no mutating control and the server refuses the viewer's call, changing nothing.
 */
import { randomBytes } from "node:crypto";
import { expect, STORAGE_STATE, test } from "./fixtures.ts";
import { E2E } from "./stack.ts";

const tag = randomBytes(4).toString("hex");
const title = `E2E pending group ${tag}`;
const conversationId = `cid-e2e-${tag}`;

// The operator's stored sign-in (auth.setup.ts) unless a test says otherwise.
test.use({ storageState: STORAGE_STATE.OPERATOR });

test.beforeAll(async ({ db }) => {
  await db.conversation.create({ data: { conversationId, title, type: "GROUP", environment: "PROD" } });
});
test.afterAll(async ({ db }) => {
  await db.conversation.deleteMany({ where: { conversationId } });
});

test("an operator enables a pending group, sets its environment and disables it after confirming", async ({
  page,
  db,
}, testInfo) => {
  await page.goto("/conversations");
  await expect(page.getByRole("heading", { name: "Conversations", level: 1 })).toBeVisible();

  const pendingCount = await db.conversation.count({ where: { status: "PENDING" } });
  const pendingTab = page.getByRole("group", { name: "Filter by status" }).getByRole("button", { name: /^Pending/ });
  await expect(pendingTab).toHaveText(`Pending${pendingCount}`);
  await pendingTab.click();
  await expect(pendingTab).toHaveAttribute("aria-pressed", "true");
  const row = page.getByRole("row", { name: new RegExp(title) });
  await expect(row).toContainText("Pending");
  await page.screenshot({ path: testInfo.outputPath("conversations.png"), fullPage: true });

  // Enable: optimistic, then confirmed by the server with the new config revision.
  const revBefore = (await db.configRevision.findFirstOrThrow({ orderBy: { id: "desc" } })).id;
  await page.getByRole("button", { name: /^All/ }).click();
  await page.getByLabel("Search by title").fill(tag);
  await page.getByRole("button", { name: "Search" }).click();
  await expect(page.getByRole("table")).toContainText(`1 conversation matching “${tag}”`);
  await row.getByRole("button", { name: `Enable ${title}` }).click();
  await expect(page.getByRole("status").filter({ hasText: "status PENDING -> ENABLED" })).toContainText(
    "Live from config revision",
  );
  await expect(row).toContainText("Enabled");
  const enabled = await db.conversation.findUniqueOrThrow({ where: { conversationId } });
  expect(enabled.status).toBe("ENABLED");
  const audit = await db.auditLog.findFirstOrThrow({
    where: { action: "conversation.update", targetId: conversationId },
    orderBy: { id: "desc" },
  });
  expect(audit).toMatchObject({
    actorName: "operator@clawgate.local",
    diff: { status: { from: "PENDING", to: "ENABLED" } },
  });
  expect(audit.configRevision).toBeGreaterThan(revBefore);

  await row.getByLabel(`Environment of ${title}`).selectOption("TEST");
  await expect
    .poll(async () => (await db.conversation.findUniqueOrThrow({ where: { conversationId } })).environment)
    .toBe("TEST");

  // Disable asks first; Escape cancels and nothing changes.
  await row.getByRole("button", { name: `Disable ${title}` }).click();
  const dialog = page.getByRole("dialog", { name: `Disable “${title}”?` });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  expect((await db.conversation.findUniqueOrThrow({ where: { conversationId } })).status).toBe("ENABLED");

  await row.getByRole("button", { name: `Disable ${title}` }).click();
  await dialog.getByRole("button", { name: "Disable" }).click();
  await expect(dialog).toBeHidden();
  await expect(row).toContainText("Disabled");
  expect((await db.conversation.findUniqueOrThrow({ where: { conversationId } })).status).toBe("DISABLED");

  await page.setViewportSize({ width: 390, height: 844 });
  await expect(row).toBeAttached();
  await page.screenshot({ path: testInfo.outputPath("conversations-mobile.png"), fullPage: true });
});

test("a refused change is rolled back and explained", async ({ page, db }) => {
  const goneId = `cid-e2e-gone-${tag}`;
  const gone = await db.conversation.create({
    data: { conversationId: goneId, title: `E2E vanishing group ${tag}`, type: "GROUP" },
  });
  await page.goto("/conversations");
  await page.getByLabel("Search by title").fill(`vanishing group ${tag}`);
  await page.getByRole("button", { name: "Search" }).click();
  const row = page.getByRole("row", { name: new RegExp(`E2E vanishing group ${tag}`) });
  await expect(row).toContainText("Pending");
  // Someone else removes it meanwhile: the server refuses, the page says why and shows the truth.
  // Removed as the click's request leaves the browser, so no refetch can take the row away first.
  const revisions = await db.configRevision.count();
  await page.route(
    "**/api/trpc/conversation.update**",
    async (route) => {
      await db.conversation.delete({ where: { id: gone.id } });
      await route.continue();
    },
    { times: 1 },
  );
  await row.getByRole("button", { name: `Enable E2E vanishing group ${tag}` }).click();
  await expect(page.getByRole("alert").filter({ hasText: "Not saved" })).toHaveText(
    /Not saved: No such conversation\./,
  );
  await expect(page.getByText("No conversation matches these filters")).toBeVisible();
  expect(await db.configRevision.count()).toBe(revisions);
});

test.describe("as viewer", () => {
  test.use({ storageState: STORAGE_STATE.VIEWER });

  test("a viewer sees no controls, and the server refuses the viewer's change", async ({ page, db }) => {
    await page.goto("/conversations");
    const row = page.getByRole("row", { name: new RegExp(title) });
    await expect(row).toBeVisible();
    await expect(page.locator("[data-mutates]")).toHaveCount(0);
    await expect(page.getByRole("columnheader", { name: "Actions" })).toHaveCount(0);

    const before = await db.conversation.findUniqueOrThrow({ where: { conversationId } });
    const res = await page.request.post("/api/trpc/conversation.update", {
      headers: { "x-trpc-source": "console", origin: E2E.consoleUrl, "content-type": "application/json" },
      data: JSON.stringify({ json: { id: before.id, status: before.status === "ENABLED" ? "DISABLED" : "ENABLED" } }),
    });
    expect(res.status()).toBe(403);
    expect(await res.text()).toContain("Your role does not allow this.");
    expect(await db.conversation.findUniqueOrThrow({ where: { conversationId } })).toMatchObject({
      status: before.status,
      updatedAt: before.updatedAt,
    });
  });
});

import { expect, STORAGE_STATE, test } from "./fixtures.ts";
import { E2E } from "./stack.ts";

// The admin's stored sign-in (auth.setup.ts) unless a test says otherwise.
test.use({ storageState: STORAGE_STATE.ADMIN });

test("an admin creates a flag (with key validation), toggles it, and is asked before turning off agent.tools", async ({
  page,
  db,
}, testInfo) => {
  await page.goto("/flags");
  await expect(page.getByRole("heading", { name: "Feature flags", level: 1 })).toBeVisible();
  await expect(page.getByRole("row", { name: /agent\.tools/ })).toContainText("every skill");

  // A bad key is caught as typed; the button stays disabled and nothing is stored.
  const key = page.getByLabel("Key");
  await key.fill("Bad Key");
  await expect(page.getByText("Lowercase words joined by dots")).toBeVisible();
  await expect(page.getByRole("button", { name: "Create flag" })).toBeDisabled();
  await key.fill("agent.tools");
  await expect(page.getByText("This flag exists already.")).toBeVisible();

  await key.fill("e2e.cards_v2");
  await page.getByLabel("Description").fill("Reply with the new cards (e2e)");
  await page.getByRole("button", { name: "Create flag" }).click();
  const row = page.getByRole("row", { name: /e2e\.cards_v2/ });
  await expect(row).toContainText("Off");
  expect(await db.featureFlag.findUnique({ where: { key: "e2e.cards_v2" } })).toMatchObject({
    enabled: false,
    description: "Reply with the new cards (e2e)",
  });

  // Toggle on: optimistic, stored, audited with a config revision.
  const toggle = page.getByRole("switch", { name: "Flag e2e.cards_v2" });
  await toggle.click();
  await expect(toggle).toHaveAttribute("aria-checked", "true");
  await expect(page.getByRole("status").filter({ hasText: 'Flag "e2e.cards_v2" on' })).toBeVisible();
  expect((await db.featureFlag.findUniqueOrThrow({ where: { key: "e2e.cards_v2" } })).enabled).toBe(true);
  const audit = await db.auditLog.findMany({ where: { targetId: "e2e.cards_v2" }, orderBy: { id: "asc" } });
  expect(audit.map((a) => [a.action, a.actorName])).toEqual([
    ["flag.create", "admin@clawgate.local"],
    ["flag.update", "admin@clawgate.local"],
  ]);
  expect(audit.every((a) => a.configRevision !== null)).toBe(true);

  // A flag without skills behind it turns off at once.
  await toggle.click();
  await expect(toggle).toHaveAttribute("aria-checked", "false");
  await expect
    .poll(async () => (await db.featureFlag.findUniqueOrThrow({ where: { key: "e2e.cards_v2" } })).enabled)
    .toBe(false);

  // agent.tools gates every skill: turning it off asks first; Cancel keeps it on.
  const tools = page.getByRole("switch", { name: "Flag agent.tools" });
  await tools.click();
  const dialog = page.getByRole("dialog", { name: "Turn off agent.tools?" });
  await expect(dialog).toContainText("stops calling every skill");
  await page.screenshot({ path: testInfo.outputPath("flags-confirm.png") });
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(tools).toHaveAttribute("aria-checked", "true");
  expect((await db.featureFlag.findUniqueOrThrow({ where: { key: "agent.tools" } })).enabled).toBe(true);

  await page.screenshot({ path: testInfo.outputPath("flags.png"), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(row).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("flags-mobile.png"), fullPage: true });
});

test.describe("as viewer", () => {
  test.use({ storageState: STORAGE_STATE.VIEWER });

  test("a viewer sees the flags without controls, and the server refuses their toggle", async ({ page, db }) => {
    await page.goto("/flags");
    await expect(page.getByRole("row", { name: /agent\.tools/ })).toBeVisible();
    await expect(page.getByRole("switch")).toHaveCount(0);
    await expect(page.getByRole("button", { name: "Create flag" })).toHaveCount(0);

    const res = await page.request.post(`${E2E.consoleUrl}/api/trpc/flag.toggle`, {
      headers: { "x-trpc-source": "console", origin: E2E.consoleUrl, "content-type": "application/json" },
      data: JSON.stringify({ json: { key: "agent.tools", enabled: false } }),
    });
    expect(res.status()).toBe(403);
    expect((await db.featureFlag.findUniqueOrThrow({ where: { key: "agent.tools" } })).enabled).toBe(true);
  });
});

import { expect, STORAGE_STATE, test } from "./fixtures.ts";

// The admin's stored sign-in (auth.setup.ts) unless a test says otherwise.
test.use({ storageState: STORAGE_STATE.ADMIN });

test("an admin adds an endpoint (API key only as an env var name), routes a conversation to it, and cannot disable the default route's endpoint", async ({
  tag,
  page,
  db,
}, testInfo) => {
  const name = `e2e_big_${tag}`;
  await page.goto("/models");
  await expect(page.getByRole("heading", { name: "Models & routes", level: 1 })).toBeVisible();
  const local = page.getByRole("row", { name: /local_chat/ });
  await expect(local.getByText("${LOCAL_MODEL_API_KEY}")).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("models.png"), fullPage: true });

  // A pasted key is refused with a field error and nothing is stored.
  await page.getByRole("button", { name: "Add endpoint" }).click();
  const form = page.getByRole("form", { name: "New model endpoint" });
  await form.getByLabel("Name").fill(name);
  await form.getByLabel("Base URL").fill("https://llm.internal.example/v1");
  await form.getByLabel("Model").fill("qwen2.5-72b");
  await form.getByLabel("API key env var").fill("sk-live-0123456789abcdef");
  await form.getByLabel("Timeout (ms)").fill("45000");
  await form.getByRole("button", { name: "Add endpoint" }).click();
  await expect(form.getByText(/must be the name of an env var/)).toBeVisible();
  await expect(form.getByLabel("API key env var")).toHaveAttribute("aria-invalid", "true");
  expect(await db.modelEndpoint.findUnique({ where: { name } })).toBeNull();

  // One of the runtime's own settings is refused with a message in the form, nothing stored.
  await form.getByLabel("API key env var").fill("${DATABASE_URL}");
  await form.getByRole("button", { name: "Add endpoint" }).click();
  await expect(form.getByText(/DATABASE_URL is one of Clawgate's own settings/)).toBeVisible();
  expect(await db.modelEndpoint.findUnique({ where: { name } })).toBeNull();

  await form.getByLabel("API key env var").fill("${E2E_BIG_API_KEY}");
  await form.getByRole("button", { name: "Add endpoint" }).click();
  await expect(page.getByRole("status").filter({ hasText: `${name} added.` })).toBeVisible();
  const row = page.getByRole("row", { name: new RegExp(name) });
  await expect(row.getByText("${E2E_BIG_API_KEY}")).toBeVisible();
  expect(await db.modelEndpoint.findUnique({ where: { name } })).toMatchObject({
    apiKeyEnv: "E2E_BIG_API_KEY",
    timeoutMs: 45_000,
    enabled: true,
  });

  // The default route's endpoint: disabling is refused, the optimistic row rolls back.
  const revisions = await db.configRevision.count();
  await local.getByRole("button", { name: "Disable local_chat" }).click();
  const dialog = page.getByRole("dialog", { name: "Disable local_chat?" });
  await dialog.getByRole("button", { name: "Disable" }).click();
  await expect(page.getByRole("alert").filter({ hasText: /serves the default route/ })).toBeVisible();
  await expect(local.getByText("Enabled", { exact: true })).toBeVisible();
  expect(await db.modelEndpoint.findUniqueOrThrow({ where: { name: "local_chat" } })).toMatchObject({ enabled: true });
  expect(await db.configRevision.count()).toBe(revisions);

  // A route for a conversation of this test's own to the new endpoint, then deleted after confirmation.
  const conversation = await db.conversation.create({
    data: { conversationId: `cid-e2e-models-${tag}`, title: `E2E models ${tag}`, type: "GROUP" },
  });
  const routeRow = new RegExp(`E2E models ${tag}`);
  await page.reload();
  await page.getByRole("button", { name: "Add route" }).click();
  const routeForm = page.getByRole("form", { name: "New route" });
  await routeForm.getByLabel("Conversation").selectOption({ label: `E2E models ${tag} (cid-e2e-models-${tag})` });
  await routeForm.getByLabel("Endpoint").selectOption({ label: name });
  await routeForm.getByLabel("Max tool rounds").fill("2");
  await routeForm.getByRole("button", { name: "Save route" }).click();
  await expect(page.getByRole("row", { name: routeRow })).toContainText(name);
  expect(
    await db.route.findUnique({ where: { conversationId: conversation.id }, include: { modelEndpoint: true } }),
  ).toMatchObject({ maxToolRounds: 2, modelEndpoint: { name } });

  // The endpoint serves that route: deleting it is refused with the reason.
  await row.getByRole("button", { name: `Delete ${name}` }).click();
  const del = page.getByRole("dialog", { name: `Delete ${name}?` });
  await del.getByLabel(/Type .* to confirm/).fill(name);
  await del.getByRole("button", { name: "Delete" }).click();
  await expect(del.getByRole("alert")).toContainText("serves 1 conversation route");
  await del.getByRole("button", { name: "Cancel" }).click();

  await page.getByRole("button", { name: `Delete route for E2E models ${tag}` }).click();
  await page
    .getByRole("dialog", { name: new RegExp(`Delete the route for E2E models ${tag}`) })
    .getByRole("button", { name: "Delete route" })
    .click();
  await expect(page.getByRole("row", { name: routeRow })).toHaveCount(0);
  expect(await db.route.findUnique({ where: { conversationId: conversation.id } })).toBeNull();

  await row.getByRole("button", { name: `Delete ${name}` }).click();
  await del.getByLabel(/Type .* to confirm/).fill(name);
  await del.getByRole("button", { name: "Delete" }).click();
  await expect(row).toHaveCount(0);
  expect(await db.modelEndpoint.findUnique({ where: { name } })).toBeNull();
  const audit = await db.auditLog.findMany({ where: { targetId: name }, orderBy: { id: "asc" } });
  expect(audit.map((a) => a.action)).toEqual(["model.create", "model.delete"]);

  await page.setViewportSize({ width: 390, height: 844 });
  await expect(local).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("models-mobile.png"), fullPage: true });
});

test.describe("as viewer", () => {
  test.use({ storageState: STORAGE_STATE.VIEWER });

  test("a viewer sees models and routes without any control that changes them", async ({ page }, testInfo) => {
    await page.goto("/models");
    await expect(page.getByRole("row", { name: /local_chat/ })).toBeVisible();
    await expect(page.getByText("Default route", { exact: true })).toBeVisible();
    await expect(page.locator("[data-mutates]")).toHaveCount(0);
    await expect(page.getByRole("button", { name: /Add|Edit|Disable|Delete|Save/ })).toHaveCount(0);
    await page.screenshot({ path: testInfo.outputPath("models-viewer.png"), fullPage: true });
  });
});

import { expect, STORAGE_STATE, test } from "./fixtures.ts";

// The admin's stored sign-in (auth.setup.ts) unless a test says otherwise.
test.use({ storageState: STORAGE_STATE.ADMIN });

const utcDay = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));

test("an admin sees usage bars and the daily chart, adds, edits and deletes a budget; bad input changes nothing", async ({
  tag,
  page,
  db,
}, testInfo) => {
  const subject = `e2e-user-${tag}`;
  // Usage the runtime counted today and yesterday for the organisation (GLOBAL budget: 2,000,000 a day).
  const today = utcDay(new Date());
  const yesterday = new Date(today.getTime() - 86_400_000);
  for (const [windowStart, tokens] of [
    [today, 500_000n],
    [yesterday, 320_000n],
  ] as const) {
    await db.usageCounter.upsert({
      where: { scope_subject_window_windowStart: { scope: "GLOBAL", subject: "", window: "DAY", windowStart } },
      update: { tokensUsed: tokens, tokensReserved: 0n },
      create: { scope: "GLOBAL", subject: "", window: "DAY", windowStart, tokensUsed: tokens, requests: 10 },
    });
  }

  await page.goto("/budgets");
  await expect(page.getByRole("heading", { name: "Budgets & limits", level: 1 })).toBeVisible();
  const todayBar = page.getByRole("meter", { name: "Today · GLOBAL" });
  await expect(todayBar).toHaveAttribute("aria-valuetext", "500,000 of 2,000,000 tokens (25%)");
  await expect(
    page.getByRole("img", { name: /Tokens per day \(UTC\), organisation: \d+ in total, peak/ }),
  ).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("budgets.png"), fullPage: true });

  // A second GLOBAL budget is refused with the reason; nothing is written.
  const before = await db.tokenBudget.count();
  await page.getByRole("button", { name: "Add budget" }).click();
  const form = page.getByRole("form", { name: "New budget" });
  await form.getByLabel("Scope").selectOption("GLOBAL");
  await form.getByLabel("Tokens per day").fill("100");
  await form.getByRole("button", { name: "Add budget" }).click();
  await expect(form.getByRole("alert")).toContainText("A GLOBAL budget already exists");
  expect(await db.tokenBudget.count()).toBe(before);

  await form.getByLabel("Scope").selectOption("USER");
  await form.getByLabel("DingTalk user id").fill(subject);
  await form.getByLabel("Tokens per day").fill("10000");
  await form.getByLabel("Requests per minute").fill("5");
  await form.getByRole("button", { name: "Add budget" }).click();
  const card = page.getByRole("listitem", { name: `USER ${subject}` });
  await expect(card).toBeVisible();
  expect(await db.tokenBudget.findUnique({ where: { scope_subject: { scope: "USER", subject } } })).toMatchObject({
    dailyTokens: 10_000,
    requestsPerMinute: 5,
    monthlyTokens: null,
  });

  // Edit: clear the daily limit (unlimited), set a monthly one.
  await card.getByRole("button", { name: `Edit budget USER ${subject}` }).click();
  const edit = page.getByRole("form", { name: `Edit budget USER ${subject}` });
  await edit.getByLabel("Tokens per day").fill("");
  await edit.getByLabel("Tokens per month").fill("300000");
  await edit.getByRole("button", { name: "Save budget" }).click();
  await expect(card.getByRole("meter", { name: `This month · USER ${subject}` })).toHaveAttribute(
    "aria-valuetext",
    "0 of 300,000 tokens (0%)",
  );
  expect(await db.tokenBudget.findUnique({ where: { scope_subject: { scope: "USER", subject } } })).toMatchObject({
    dailyTokens: null,
    monthlyTokens: 300_000,
  });

  await card.getByRole("button", { name: `Delete budget USER ${subject}` }).click();
  await page
    .getByRole("dialog", { name: `Delete budget USER ${subject}?` })
    .getByRole("button", { name: "Delete budget" })
    .click();
  await expect(card).toHaveCount(0);
  expect(await db.tokenBudget.findUnique({ where: { scope_subject: { scope: "USER", subject } } })).toBeNull();
  const audit = await db.auditLog.findMany({ where: { targetId: `USER ${subject}` }, orderBy: { id: "asc" } });
  expect(audit.map((a) => a.action)).toEqual(["budget.create", "budget.update", "budget.delete"]);

  await page.setViewportSize({ width: 390, height: 844 });
  await expect(todayBar).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("budgets-mobile.png"), fullPage: true });
});

test.describe("as viewer", () => {
  test.use({ storageState: STORAGE_STATE.VIEWER });

  test("a viewer sees budgets and usage without any control that changes them", async ({ page }) => {
    await page.goto("/budgets");
    await expect(page.getByRole("meter", { name: "Today · GLOBAL" })).toBeVisible();
    await expect(page.locator("[data-mutates]")).toHaveCount(0);
    await expect(page.getByRole("button", { name: /Add|Edit|Delete/ })).toHaveCount(0);
  });
});

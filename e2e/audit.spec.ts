/**
 * Audit log: a viewer filters by actor, action prefix and target type, pages with the cursor,
 * reads a diff as "field: from → to", and verifies the hash chain (read-only).
 */
import { randomBytes } from "node:crypto";
import { appendAudit } from "@clawgate/core";
import { expect, STORAGE_STATE, test } from "./fixtures.ts";

const tag = randomBytes(4).toString("hex");
const actors = `-${tag}@host`;

// The viewer's stored sign-in (auth.setup.ts) unless a test says otherwise.
test.use({ storageState: STORAGE_STATE.VIEWER });

test.beforeAll(async ({ db }) => {
  // 30 entries: more than one page (25).
  for (let i = 0; i < 30; i++) {
    await db.$transaction((tx) =>
      appendAudit(tx, {
        actor: { type: "CLI", name: i % 2 ? `ops-${tag}@host` : `dev-${tag}@host` },
        action: i === 29 ? "skill.update" : "config.onboard",
        targetType: i === 29 ? `e2e_target_${tag}` : "e2e",
        targetId: `t${i}`,
        diff: i === 29 ? { enabled: { from: false, to: true }, apiKey: { changed: true } } : { n: i },
      }),
    );
  }
});

test("a viewer filters, pages and verifies the audit log", async ({ page, db }, testInfo) => {
  await page.goto("/audit");
  await expect(page.getByRole("heading", { name: "Audit log", level: 1 })).toBeVisible();

  await page.getByLabel("Actor").fill(actors);
  await page.getByRole("button", { name: "Apply filters" }).click();
  const rows = page.getByRole("table").locator("tbody tr");
  await expect(rows).toHaveCount(25);
  // Newest first: the toggle with its diff.
  const first = rows.first();
  await expect(first).toContainText("skill.update");
  await expect(first).toContainText("enabled: false → changed to true");
  await expect(first).toContainText("apiKey: changed (secret: value not recorded)");
  await page.screenshot({ path: testInfo.outputPath("audit.png"), fullPage: true });

  const pages = page.getByRole("navigation", { name: "Audit log pages" });
  await pages.getByRole("button", { name: "Next" }).click();
  await expect(pages).toContainText("Page 2");
  await expect(rows).toHaveCount(5);
  await expect(rows.last()).toContainText("t0");
  await expect(pages.getByRole("button", { name: "Next" })).toBeDisabled();
  await pages.getByRole("button", { name: "Previous" }).click();
  await expect(rows).toHaveCount(25);

  // Action, actor and target type narrow it further.
  await page.getByLabel("Action starts with").fill("config.");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await expect(rows).toHaveCount(25);
  await page.getByLabel("Action starts with").fill("");
  await page.getByLabel("Actor").fill(`ops-${tag}`);
  await page.getByRole("button", { name: "Apply filters" }).click();
  await expect(rows).toHaveCount(15);
  await page.getByLabel("Target type").selectOption(`e2e_target_${tag}`);
  await page.getByRole("button", { name: "Apply filters" }).click();
  await expect(rows).toHaveCount(1);
  // A date range (UTC days) that holds today keeps it; one that ends yesterday does not.
  const today = new Date().toISOString().slice(0, 10);
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  await page.getByLabel("From (UTC)").fill(today);
  await page.getByLabel("To (UTC)").fill(today);
  await page.getByRole("button", { name: "Apply filters" }).click();
  await expect(rows).toHaveCount(1);
  await page.getByLabel("From (UTC)").fill(yesterday);
  await page.getByLabel("To (UTC)").fill(yesterday);
  await page.getByRole("button", { name: "Apply filters" }).click();
  await expect(page.getByText("No entry matches these filters")).toBeVisible();
  // An inverted date range is refused before it is sent.
  await page.getByLabel("From (UTC)").fill("2026-02-01");
  await page.getByLabel("To (UTC)").fill("2026-01-01");
  await expect(page.getByRole("alert").filter({ hasText: "start date must be before" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Apply filters" })).toBeDisabled();
  await page.getByRole("button", { name: "Clear" }).click();

  const count = await db.auditLog.count();
  await page.getByRole("button", { name: "Verify chain" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Chain intact" })).toContainText(/all \d+ entries verify/);
  expect(await db.auditLog.count()).toBe(count); // verifying wrote nothing

  await page.setViewportSize({ width: 390, height: 844 });
  await expect(page.getByRole("heading", { name: "Audit log", level: 1 })).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("audit-mobile.png"), fullPage: true });
});

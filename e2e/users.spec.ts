/**
 * Users & roles: an admin demotes a user (confirmation; their sessions end), promotes them
 * (no confirmation), disables and re-enables them; their own row cannot be demoted or disabled.
 * An admin adds someone by email (who can then sign in and approve); a duplicate is refused.
 * A viewer reads the list without controls and the server refuses the viewer's change.
 * Works on a throwaway user so the demo users keep their roles for the other specs.
 */
import { randomBytes } from "node:crypto";
import { ADMIN, expect, STORAGE_STATE, test } from "./fixtures.ts";
import { E2E } from "./stack.ts";

const tag = randomBytes(4).toString("hex");
const email = `e2e-user-${tag}@example.test`;
const name = `E2E User ${tag}`;

// The admin's stored sign-in (auth.setup.ts) unless a test says otherwise.
test.use({ storageState: STORAGE_STATE.ADMIN });

test.beforeAll(async ({ db }) => {
  const user = await db.user.create({ data: { email, name, role: "OPERATOR" } });
  await db.session.create({
    data: { sessionToken: `e2e-${tag}`, userId: user.id, expires: new Date(Date.now() + 3_600_000) },
  });
});
const added = `e2e-added-${tag}@example.test`;
test.afterAll(async ({ db }) => {
  await db.user.deleteMany({ where: { email: { in: [email, added] } } });
});

test("an admin demotes (sessions end), promotes, disables and re-enables a user", async ({ page, db }, testInfo) => {
  await page.goto("/users");
  await expect(page.getByRole("heading", { name: "Users & roles", level: 1 })).toBeVisible();

  // Your own row: no demotion, no disabling.
  const own = page.getByRole("row", { name: new RegExp(ADMIN.email) });
  await expect(own.getByLabel(/^Role of/)).toBeDisabled();
  await expect(own.getByRole("button", { name: /^Disable/ })).toBeDisabled();

  const row = page.getByRole("row", { name: new RegExp(email) });
  await expect(row).toContainText("1 session");
  await page.screenshot({ path: testInfo.outputPath("users.png"), fullPage: true });

  // Demotion asks first; cancelling keeps the role.
  const select = row.getByLabel(`Role of ${name}`);
  await select.selectOption("VIEWER");
  const dialog = page.getByRole("dialog", { name: `Change ${name} from OPERATOR to VIEWER?` });
  await expect(dialog).toBeVisible();
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  await expect(select).toHaveValue("OPERATOR");
  expect((await db.user.findUniqueOrThrow({ where: { email } })).role).toBe("OPERATOR");

  await select.selectOption("VIEWER");
  await dialog.getByRole("button", { name: "Change role" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByRole("status").filter({ hasText: "Saved" })).toContainText(
    "role OPERATOR -> VIEWER, 1 session(s) revoked",
  );
  const demoted = await db.user.findUniqueOrThrow({ where: { email }, include: { sessions: true } });
  expect(demoted.role).toBe("VIEWER");
  expect(demoted.sessions).toEqual([]);
  const audit = await db.auditLog.findFirstOrThrow({
    where: { action: "user.role", targetId: demoted.id },
    orderBy: { id: "desc" },
  });
  expect(audit).toMatchObject({
    actorName: ADMIN.email,
    configRevision: null,
    diff: { role: { from: "OPERATOR", to: "VIEWER" }, sessionsRevoked: 1 },
  });

  // A promotion needs no confirmation.
  await select.selectOption("APPROVER");
  await expect(page.getByRole("dialog")).toBeHidden();
  await expect.poll(async () => (await db.user.findUniqueOrThrow({ where: { email } })).role).toBe("APPROVER");

  // Disable (confirmed), then enable again.
  await row.getByRole("button", { name: `Disable ${name}` }).click();
  const disableDialog = page.getByRole("dialog", { name: `Disable ${name}?` });
  await disableDialog.getByRole("button", { name: "Disable" }).click();
  await expect(row).toContainText("Disabled");
  expect((await db.user.findUniqueOrThrow({ where: { email } })).disabledAt).not.toBeNull();
  await row.getByRole("button", { name: `Enable ${name}` }).click();
  await expect(row).toContainText("Active");
  expect((await db.user.findUniqueOrThrow({ where: { email } })).disabledAt).toBeNull();

  await page.setViewportSize({ width: 390, height: 844 });
  await expect(row).toBeAttached();
  await page.screenshot({ path: testInfo.outputPath("users-mobile.png"), fullPage: true });
});

test("an admin adds a user by email with a role; the same email again is refused", async ({ page, db }, testInfo) => {
  await page.goto("/users");
  const form = page.getByRole("form", { name: "Add user" });
  await form.getByLabel("Email").fill(added.toUpperCase());
  await form.getByLabel("Name (optional)").fill("Added Approver");
  await form.getByLabel("Role").selectOption("APPROVER");
  await page.screenshot({ path: testInfo.outputPath("users-add.png"), fullPage: true });
  await form.getByRole("button", { name: "Add user" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Added" })).toContainText(`${added} added as APPROVER`);
  await expect(page.getByRole("row", { name: new RegExp(added) })).toContainText("APPROVER");
  await expect(form.getByLabel("Email")).toHaveValue("");

  const user = await db.user.findUniqueOrThrow({ where: { email: added } });
  expect(user).toMatchObject({ role: "APPROVER", name: "Added Approver", disabledAt: null });
  expect(
    await db.auditLog.findFirstOrThrow({ where: { action: "user.add", targetId: user.id }, orderBy: { id: "desc" } }),
  ).toMatchObject({ actorName: ADMIN.email, configRevision: null, diff: { role: { from: null, to: "APPROVER" } } });

  await form.getByLabel("Email").fill(added);
  await form.getByRole("button", { name: "Add user" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "Not added" })).toContainText(
    `${added} is already a user (APPROVER): nothing added.`,
  );
  expect(await db.user.count({ where: { email: added } })).toBe(1);
});

test.describe("as viewer", () => {
  test.use({ storageState: STORAGE_STATE.VIEWER });

  test("a viewer reads the users without controls; the server refuses the viewer's change", async ({ page, db }) => {
    await page.goto("/users");
    await expect(page.getByRole("row", { name: new RegExp(email) })).toBeVisible();
    await expect(page.locator("[data-mutates]")).toHaveCount(0);
    await expect(page.getByText("only admins change roles")).toBeVisible();

    const user = await db.user.findUniqueOrThrow({ where: { email } });
    const res = await page.request.post("/api/trpc/user.setRole", {
      headers: { "x-trpc-source": "console", origin: E2E.consoleUrl, "content-type": "application/json" },
      data: JSON.stringify({ json: { userId: user.id, role: "ADMIN" } }),
    });
    expect(res.status()).toBe(403);
    expect(await res.text()).toContain("Your role does not allow this.");
    expect((await db.user.findUniqueOrThrow({ where: { email } })).role).toBe(user.role);

    await expect(page.getByRole("form", { name: "Add user" })).toHaveCount(0);
    const add = await page.request.post("/api/trpc/user.add", {
      headers: { "x-trpc-source": "console", origin: E2E.consoleUrl, "content-type": "application/json" },
      data: JSON.stringify({ json: { email: `viewer-adds-${tag}@example.test`, role: "ADMIN" } }),
    });
    expect(add.status()).toBe(403);
    expect(await db.user.count({ where: { email: `viewer-adds-${tag}@example.test` } })).toBe(0);
  });
});

import { ADMIN, DEMO_PASSWORD, expect, openIdpLoginForm, submitIdpLogin, test } from "./fixtures.ts";

test("an admin signs in through SSO and sees the skills", async ({ page, db }, testInfo) => {
  await openIdpLoginForm(page);
  await submitIdpLogin(page, ADMIN.email, DEMO_PASSWORD);

  await expect(page).toHaveURL(/^http:\/\/localhost:3000\/skills$/);
  await expect(page.getByRole("heading", { name: "Skills", level: 1 })).toBeVisible();
  await expect(page.getByTestId("user-name")).toHaveText(ADMIN.name);
  await expect(page.getByTestId("role-badge")).toHaveText(ADMIN.role);

  const row = page.getByRole("row", { name: /kb\.search/ });
  await expect(row).toBeVisible();
  await expect(row.getByText("READ", { exact: true })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Skills" })).toHaveAttribute("aria-current", "page");

  await page.screenshot({ path: testInfo.outputPath("skills.png"), fullPage: true });

  // What sign-in stored: a database session, the account link without any IdP token.
  const user = await db.user.findUniqueOrThrow({ where: { email: ADMIN.email }, include: { accounts: true, sessions: true } });
  expect(user.lastSignInAt).not.toBeNull();
  expect(user.sessions.length).toBeGreaterThan(0);
  expect(user.accounts).toHaveLength(1);
  expect(user.accounts[0]).toMatchObject({ provider: "oidc", access_token: null, refresh_token: null, id_token: null });
});

test("a wrong password stays on the identity provider's form with an error", async ({ page }) => {
  await openIdpLoginForm(page);
  await submitIdpLogin(page, ADMIN.email, "not-the-password");

  await expect(page.getByRole("alert")).toHaveText("Wrong email or password.");
  await expect(page).toHaveURL(/^http:\/\/localhost:3100\/interaction\//);
  await expect(page.getByLabel("Email")).toHaveValue(ADMIN.email);

  await page.goto("/skills");
  await expect(page).toHaveURL(/\/signin\?/);
});

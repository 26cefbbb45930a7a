import {
  ADMIN,
  CONSOLE_PAGE,
  DEMO_PASSWORD,
  expect,
  IDP_INTERACTION,
  openIdpLoginForm,
  submitIdpLogin,
  test,
} from "./fixtures.ts";

test("an admin signs in through SSO and sees the skills", async ({ page, db }, testInfo) => {
  const consoleErrors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") consoleErrors.push(`${msg.text()} (${msg.location().url})`);
  });
  await openIdpLoginForm(page);
  await submitIdpLogin(page, ADMIN.email, DEMO_PASSWORD);

  // "/" is the overview; the skills page is one click away.
  await expect(page).toHaveURL(CONSOLE_PAGE("/overview"));
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Skills" }).click();
  await expect(page).toHaveURL(CONSOLE_PAGE("/skills"));
  await expect(page.getByRole("heading", { name: "Skills", level: 1 })).toBeVisible();
  await expect(page.getByTestId("user-name")).toHaveText(ADMIN.name);
  await expect(page.getByTestId("role-badge")).toHaveText(ADMIN.role);

  const row = page.getByRole("row", { name: /kb\.search/ });
  await expect(row).toBeVisible();
  await expect(row.getByText("READ", { exact: true })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Skills" })).toHaveAttribute(
    "aria-current",
    "page",
  );

  await page.screenshot({ path: testInfo.outputPath("skills.png"), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(row).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("skills-mobile.png"), fullPage: true });
  // The strict CSP lets Next.js's own scripts run (nonce) and nothing is blocked or broken.
  expect(consoleErrors).toEqual([]);

  // What sign-in stored: a database session, the account link without any IdP token.
  const user = await db.user.findUniqueOrThrow({
    where: { email: ADMIN.email },
    include: { accounts: true, sessions: true },
  });
  expect(user.lastSignInAt).not.toBeNull();
  expect(user.sessions.length).toBeGreaterThan(0);
  expect(user.accounts).toHaveLength(1);
  expect(user.accounts[0]).toMatchObject({ provider: "oidc", access_token: null, refresh_token: null, id_token: null });
});

test("a wrong password stays on the identity provider's form with an error", async ({ page }, testInfo) => {
  await page.goto("/signin");
  await page.screenshot({ path: testInfo.outputPath("signin.png") });
  await openIdpLoginForm(page);
  await submitIdpLogin(page, ADMIN.email, "not-the-password");

  await expect(page.getByRole("alert")).toHaveText("Wrong email or password.");
  await expect(page).toHaveURL(IDP_INTERACTION);
  await expect(page.getByLabel("Email")).toHaveValue(ADMIN.email);
  // After the form re-rendered: a screenshot while the POST's navigation is under way can fail.
  await page.screenshot({ path: testInfo.outputPath("idp-wrong-password.png") });

  await page.goto("/skills");
  await expect(page).toHaveURL(/\/signin\?/);
});

test("anonymous callers get a redirect or a 401, with security headers", async ({ request }) => {
  const signin = await request.get("/signin");
  expect(signin.status()).toBe(200);
  const headers = signin.headers();
  expect(headers["content-security-policy"]).toMatch(/script-src 'self' 'nonce-[^']+' 'strict-dynamic'/);
  expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
  expect(headers["x-content-type-options"]).toBe("nosniff");
  expect(headers["referrer-policy"]).toBe("strict-origin-when-cross-origin");

  const skills = await request.get("/skills", { maxRedirects: 0 });
  expect(skills.status()).toBe(307);
  expect(skills.headers().location).toMatch(/\/signin\?callbackUrl=%2Fskills$/);

  const api = await request.get("/api/trpc/skill.list");
  expect(api.status()).toBe(401);
});

test("a disabled user loses their session and cannot sign in again", async ({ page, db }) => {
  const email = "operator@clawgate.local";
  // The operator's stored sign-in (auth.setup.ts) has a session too: set aside while this test
  // counts the user's sessions, and put back after, for the specs that use it.
  const stored = await db.session.findMany({ where: { user: { email } } });
  try {
    await db.session.deleteMany({ where: { id: { in: stored.map((s) => s.id) } } });
    await openIdpLoginForm(page);
    await submitIdpLogin(page, email, DEMO_PASSWORD);
    await expect(page).toHaveURL(CONSOLE_PAGE("/overview"));
    await expect(page.getByTestId("role-badge")).toHaveText("OPERATOR");

    await db.user.update({ where: { email }, data: { disabledAt: new Date() } });
    await page.reload();
    await expect(page).toHaveURL(/\/signin/);

    // The IdP still has a session, so SSO comes straight back: the console refuses it.
    await page.getByRole("button", { name: "Sign in with SSO" }).click();
    // Next's route announcer is an (empty) alert too: pick ours by its text.
    await expect(page.getByRole("alert").filter({ hasText: "not allowed to use the console" })).toBeVisible();
    expect(await db.session.count({ where: { user: { email } } })).toBe(0);
  } finally {
    await db.user.update({ where: { email }, data: { disabledAt: null } });
    await db.session.createMany({ data: stored, skipDuplicates: true });
  }
});

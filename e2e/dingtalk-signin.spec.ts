/**
 * "Sign in with DingTalk": OAuth 2 at DingTalk's login page (the fake DingTalk's, speaking the
 * protocol of shared/notes/dingtalk-protocol.md section 6), the authCode back to the console,
 * the user token and users/me exchanged on the server, the console user found by email.
 */
import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures.ts";
import { signOut } from "./sign-in.ts";
import { E2E } from "./stack.ts";

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
const FAKE_LOGIN = new RegExp(`^${escape(E2E.fakeDingtalkUrl)}/oauth2/auth\\?`);

/** From the console's sign-in page to the fake DingTalk's consent page. */
async function openDingTalkLogin(page: Page): Promise<URL> {
  await page.goto("/signin");
  await page.getByRole("button", { name: "Sign in with DingTalk" }).click();
  await expect(page).toHaveURL(FAKE_LOGIN);
  await expect(page.getByRole("heading", { name: "Sign in with DingTalk" })).toBeVisible();
  return new URL(page.url());
}

test("an approver signs in with DingTalk and gets their console role", async ({ page, db }, testInfo) => {
  const authorize = await openDingTalkLogin(page);
  // The documented authorize request.
  expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
    client_id: E2E.dingtalkApp.DINGTALK_APP_KEY,
    redirect_uri: `${E2E.consoleUrl}/api/auth/callback/dingtalk`,
    response_type: "code",
    scope: "openid",
    prompt: "consent",
  });
  expect(authorize.searchParams.get("state")).toMatch(/.{16,}/);
  await page.screenshot({ path: testInfo.outputPath("dingtalk-consent.png"), fullPage: true });

  await page.getByRole("button", { name: /Continue as Ari Approver/ }).click();
  await expect(page.getByRole("banner").getByTestId("role-badge")).toHaveText("APPROVER");
  expect(page.url().startsWith(E2E.consoleUrl) && !page.url().includes("/signin")).toBe(true);
  await expect(page.getByTestId("user-name")).toHaveText("Ari Approver");
  await page.screenshot({ path: testInfo.outputPath("dingtalk-signed-in.png"), fullPage: true });

  // The DingTalk account is linked by unionId, without any DingTalk token.
  const user = await db.user.findUniqueOrThrow({
    where: { email: "approver@clawgate.local" },
    include: { accounts: true },
  });
  const account = user.accounts.find((a) => a.provider === "dingtalk");
  expect(account).toMatchObject({
    providerAccountId: "fakeUnion0001approver",
    access_token: null,
    refresh_token: null,
    id_token: null,
  });
  expect(user.role).toBe("APPROVER");
  await signOut(page.context());
});

test("a DingTalk account without an email is refused with a clear message", async ({ page, db }, testInfo) => {
  const users = await db.user.count();
  await openDingTalkLogin(page);
  await page.getByRole("button", { name: /Continue as Nora NoEmail/ }).click();
  await expect(page).toHaveURL(/\/signin\?error=DingTalkNoEmail/);
  await expect(page.getByRole("alert").filter({ hasText: "Your DingTalk account has no email address" })).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath("dingtalk-no-email.png") });
  expect(await db.user.count()).toBe(users);
  expect(await db.account.count({ where: { provider: "dingtalk", providerAccountId: "fakeUnion0003noemail" } })).toBe(
    0,
  );
});

test("a DingTalk account whose email the console does not know is refused, and no user is created", async ({
  page,
  db,
}) => {
  await openDingTalkLogin(page);
  await page.getByRole("button", { name: /Continue as Sam Stranger/ }).click();
  await expect(page).toHaveURL(/\/signin\?error=DingTalkUnknownUser/);
  await expect(
    page.getByRole("alert").filter({ hasText: "No console user has the email of this DingTalk account" }),
  ).toBeVisible();
  expect(await db.user.findUnique({ where: { email: "sam@example.com" } })).toBeNull();

  // Cancelling at DingTalk comes back as a refusal too, still signed out.
  await openDingTalkLogin(page);
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(page).toHaveURL(/\/signin\?.*error=Callback/);
  await expect(
    page.getByRole("alert").filter({ hasText: "The sign-in was cancelled or did not complete." }),
  ).toBeVisible();
  await page.goto("/overview");
  await expect(page).toHaveURL(/\/signin\?/);
});

/**
 * The "setup" project (playwright.config.ts): signs in once per demo role through the real OIDC
 * provider and saves the browser's storage state (the console's session cookie, the IdP's
 * cookies) to e2e/.auth/<role>.json. Specs open pages as a role with
 * `test.use({ storageState: STORAGE_STATE.ADMIN })` (or `signedInContext(browser, "ADMIN")` for
 * several users at once) instead of signing in each time, so the suite makes four sign-ins, not
 * one per test, and stays far from the console's sign-in rate limit. Specs must not sign these
 * sessions out; the specs that test signing in and out do it in contexts of their own.
 */
import { DEMO_USERS } from "@clawgate/core";
import { test as setup } from "@playwright/test";
import { STORAGE_STATE } from "./fixtures.ts";
import { signInWithSso } from "./sign-in.ts";

for (const user of DEMO_USERS) {
  setup(`sign in as ${user.role}`, async ({ page }) => {
    await signInWithSso(page, user.email, user.role);
    await page.context().storageState({ path: STORAGE_STATE[user.role] });
  });
}

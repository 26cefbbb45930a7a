/** Signed-in browser contexts for the specs that need several users at once (roles, security). */
import type { Browser, BrowserContext, Page } from "@playwright/test";
import type { DemoUser } from "@clawgate/core";
import { DEMO_PASSWORD, expect, openIdpLoginForm, STORAGE_STATE, submitIdpLogin } from "./fixtures.ts";
import { E2E } from "./stack.ts";

/** Signs in through the real SSO flow and waits for the console to show the user's role. */
export async function signInWithSso(page: Page, email: string, role: string): Promise<void> {
  await openIdpLoginForm(page);
  await submitIdpLogin(page, email, DEMO_PASSWORD);
  await expect(page.getByRole("banner").getByTestId("role-badge")).toHaveText(role);
}

/**
 * A browser context of its own signed in as this demo role, from the storage state auth.setup.ts
 * saved (no new sign-in), on the overview. Close it when done; do not sign it out (the session is
 * the one every spec of this role uses).
 */
export async function signedInContext(
  browser: Browser,
  role: DemoUser["role"],
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL: E2E.consoleUrl, storageState: STORAGE_STATE[role] });
  const page = await context.newPage();
  await page.goto("/overview");
  await expect(page.getByRole("banner").getByTestId("role-badge")).toHaveText(role);
  return { context, page };
}

/** Console errors and uncaught page errors, for "nothing is broken" assertions. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(`${msg.text()} (${msg.location().url})`);
  });
  page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));
  return errors;
}

/** The headers a tRPC call from the console's own pages carries (see apps/console/src/server/csrf.ts). */
export const SAME_ORIGIN = {
  "x-trpc-source": "console",
  origin: E2E.consoleUrl,
  "content-type": "application/json",
} as const;

/** A tRPC mutation's POST body (superjson: the input under `json`). */
export const trpcBody = (input: unknown) => JSON.stringify({ json: input });

/**
 * Signs the context out the way the console's button does (next-auth's CSRF token), so its
 * database session is gone. Only for a context that signed in by itself, never for one made from
 * a stored state (that session is shared by the specs of its role).
 */
export async function signOut(context: BrowserContext): Promise<void> {
  const { csrfToken } = (await (await context.request.get("/api/auth/csrf")).json()) as { csrfToken: string };
  const res = await context.request.post("/api/auth/signout", { form: { csrfToken, json: "true" } });
  expect(res.ok()).toBe(true);
}

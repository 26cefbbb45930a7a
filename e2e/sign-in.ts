/** Signed-in browser contexts for the specs that need several users at once (roles, security). */
import type { Browser, BrowserContext, Page } from "@playwright/test";
import type { Db } from "@clawgate/db";
import { DEMO_PASSWORD, expect, openIdpLoginForm, submitIdpLogin } from "./fixtures.ts";
import { E2E } from "./stack.ts";

/** Signs in through the real SSO flow and waits for the console to show the user's role. */
export async function signInWithSso(page: Page, email: string, role: string): Promise<void> {
  await openIdpLoginForm(page);
  await submitIdpLogin(page, email, DEMO_PASSWORD);
  await expect(page.getByRole("banner").getByTestId("role-badge")).toHaveText(role);
}

/** A fresh browser context (own cookies, own IdP session) signed in as this user. */
export async function signedInContext(
  browser: Browser,
  email: string,
  role: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL: E2E.consoleUrl });
  const page = await context.newPage();
  await signInWithSso(page, email, role);
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
 * database session is gone: specs that count a user's sessions are not confused by ours.
 */
export async function signOut(context: BrowserContext): Promise<void> {
  const { csrfToken } = (await (await context.request.get("/api/auth/csrf")).json()) as { csrfToken: string };
  const res = await context.request.post("/api/auth/signout", { form: { csrfToken, json: "true" } });
  expect(res.ok()).toBe(true);
}

/**
 * Deletes the database session of the page's own context (use in `test.afterEach`): other specs
 * count a demo user's sessions, so a spec leaves none behind.
 */
export async function deleteOwnSession(page: Page, db: Db): Promise<void> {
  const token = (await page.context().cookies()).find((c) => c.name === "next-auth.session-token")?.value;
  if (token) await db.session.deleteMany({ where: { sessionToken: token } });
}

import { test as base, expect, type Page } from "@playwright/test";
import { createDb, type Db } from "@clawgate/db";
import { E2E } from "./stack.ts";

export const ADMIN = { email: "admin@clawgate.local", name: "Ada Admin", role: "ADMIN" } as const;
export const DEMO_PASSWORD = "demo";

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
export const IDP_INTERACTION = new RegExp(`^${escape(E2E.issuer)}/interaction/`);
export const CONSOLE_PAGE = (path: string) => new RegExp(`^${escape(E2E.consoleUrl + path)}$`);

/** Starts at the console and goes through the real SSO redirect to the IdP's login form. */
export async function openIdpLoginForm(page: Page): Promise<void> {
  await page.goto("/");
  await expect(page).toHaveURL(/\/signin\?/);
  await page.getByRole("button", { name: "Sign in with SSO" }).click();
  await expect(page).toHaveURL(IDP_INTERACTION);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
}

export async function submitIdpLogin(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

/** A database client for assertions on what the console stored. */
export const test = base.extend<object, { db: Db }>({
  db: [
    // eslint-disable-next-line no-empty-pattern -- Playwright reads fixture dependencies from a destructuring pattern
    async ({}, use) => {
      const db = createDb(process.env.DATABASE_URL ?? "", { max: 1 });
      await use(db);
      await db.$disconnect();
    },
    { scope: "worker" },
  ],
});

export { expect };

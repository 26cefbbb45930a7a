import { test as base, expect, type Page } from "@playwright/test";
import { createDb, type Db } from "@clawgate/db";

export const ADMIN = { email: "admin@clawgate.local", name: "Ada Admin", role: "ADMIN" } as const;
export const DEMO_PASSWORD = "demo";

/** Starts at the console and goes through the real SSO redirect to the IdP's login form. */
export async function openIdpLoginForm(page: Page): Promise<void> {
  await page.goto("/");
  await expect(page).toHaveURL(/\/signin\?/);
  await page.getByRole("button", { name: "Sign in with SSO" }).click();
  await expect(page).toHaveURL(/^http:\/\/localhost:3100\/interaction\//);
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
    async ({}, use) => {
      const db = createDb(process.env.DATABASE_URL ?? "", { max: 1 });
      await use(db);
      await db.$disconnect();
    },
    { scope: "worker" },
  ],
});

export { expect };

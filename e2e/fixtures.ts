import path from "node:path";
import { randomBytes } from "node:crypto";
import { test as base, expect, type Page } from "@playwright/test";
import type { DemoUser } from "@clawgate/core";
import { createDb, parseKeyRing, type Db } from "@clawgate/db";
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

/**
 * Each demo role's signed-in browser state, written once per run by auth.setup.ts (the "setup"
 * project every spec depends on): `test.use({ storageState: STORAGE_STATE.VIEWER })`.
 */
export const STORAGE_STATE: Record<DemoUser["role"], string> = {
  ADMIN: path.join(import.meta.dirname, ".auth", "ADMIN.json"),
  APPROVER: path.join(import.meta.dirname, ".auth", "APPROVER.json"),
  OPERATOR: path.join(import.meta.dirname, ".auth", "OPERATOR.json"),
  VIEWER: path.join(import.meta.dirname, ".auth", "VIEWER.json"),
};

/**
 * `db`: a database client for assertions on what the console stored. `tag`: a suffix unique to
 * this test (and this run), for the names of rows the test creates, so no test meets another's
 * rows, or an earlier run's, and none has to delete its rows to stay out of another's way.
 */
export const test = base.extend<{ tag: string }, { db: Db }>({
  // eslint-disable-next-line no-empty-pattern -- Playwright reads fixture dependencies from a destructuring pattern
  tag: async ({}, use) => {
    await use(randomBytes(4).toString("hex"));
  },
  db: [
    // eslint-disable-next-line no-empty-pattern -- Playwright reads fixture dependencies from a destructuring pattern
    async ({}, use) => {
      const db = createDb(process.env.DATABASE_URL ?? "", { max: 1, dataKeys: parseKeyRing(E2E.dataKeys) });
      await use(db);
      await db.$disconnect();
    },
    { scope: "worker" },
  ],
});

export { expect };

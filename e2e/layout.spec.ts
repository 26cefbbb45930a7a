/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * Every console page at a desktop width (1440 px) and a phone width (390 px): the page never
 * scrolls sideways, no table cuts a column at 1440 px (its box does not scroll either), at 390 px
 * every cell of a table row is on screen (rows stack: status and action columns stay visible)
 * and the navigation is a menu button that reaches every page. Screenshots of each page at both
 * widths are attached to the report.
 */
import type { BrowserContext, Page, TestInfo } from "@playwright/test";
import { NAV_ITEMS } from "../apps/console/src/components/nav-items.ts";
import { ADMIN, expect, test } from "./fixtures.ts";
import { signedInContext } from "./sign-in.ts";

const WIDTHS = [
  { name: "desktop", width: 1440, height: 900 },
  { name: "phone", width: 390, height: 844 },
] as const;

const PAGES = [...NAV_ITEMS.map((item) => item.href), "/skills/kb.search"];

let admin: { context: BrowserContext; page: Page };
test.beforeAll(async ({ browser }) => {
  admin = await signedInContext(browser, ADMIN.role);
});
// Not signed out: the stored session is the one every ADMIN spec uses (auth.setup.ts).
test.afterAll(async () => {
  await admin.context.close();
});

async function attachScreenshot(page: Page, testInfo: TestInfo, name: string) {
  await testInfo.attach(name, { body: await page.screenshot({ fullPage: true }), contentType: "image/png" });
}

/** Widths that overflow: the page's, and each data table's scroll box (by caption). */
async function overflow(page: Page) {
  return page.evaluate(() => {
    const root = document.scrollingElement!;
    return {
      page: { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth },
      tables: [...document.querySelectorAll<HTMLElement>(".data-table .overflow-x-auto")]
        .filter((box) => box.scrollWidth > box.clientWidth)
        .map(
          (box) => `${box.querySelector("caption")?.textContent ?? "table"}: ${box.scrollWidth} > ${box.clientWidth}`,
        ),
    };
  });
}

/** Cells of each data table's first row that are not fully on screen horizontally. */
async function cellsOffScreen(page: Page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    return [...document.querySelectorAll<HTMLTableElement>(".data-table table")].flatMap((table) => {
      const row = table.tBodies[0]?.rows[0];
      return [...(row?.cells ?? [])]
        .filter((cell) => {
          const box = cell.getBoundingClientRect();
          return box.width > 0 && (box.left < 0 || box.right > width + 0.5);
        })
        .map((cell) => `${cell.dataset.label || "cell"}: ${cell.textContent?.trim().slice(0, 40)}`);
    });
  });
}

for (const path of PAGES) {
  test(`${path} fits 1440 px without cut columns and 390 px with every column on screen`, async ({
    browser: _browser,
  }, testInfo) => {
    const { page } = admin;
    for (const size of WIDTHS) {
      await page.setViewportSize({ width: size.width, height: size.height });
      await page.goto(path);
      await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
      // The page's data is there (no loading panel left).
      await expect(
        page
          .getByRole("main")
          .getByRole("status")
          .filter({ hasText: /^Loading/ }),
      ).toHaveCount(0);

      const o = await overflow(page);
      expect(o.page.scrollWidth, `${path} at ${size.width} px scrolls sideways`).toBeLessThanOrEqual(
        o.page.clientWidth,
      );
      if (size.name === "desktop") {
        expect(o.tables, `${path}: tables that cut columns at ${size.width} px`).toEqual([]);
      } else {
        expect(await cellsOffScreen(page), `${path}: cells off screen at ${size.width} px`).toEqual([]);
      }
      await attachScreenshot(page, testInfo, `${path.slice(1).replaceAll("/", "-")}-${size.width}.png`);
    }
  });
}

test("at 390 px the menu button reaches every page, and closes on the way", async ({ browser: _browser }, testInfo) => {
  const { page } = admin;
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto("/overview");
  const nav = page.getByRole("navigation", { name: "Main" });
  const menu = nav.getByRole("button", { name: /Menu/ });
  await expect(menu).toHaveAttribute("aria-expanded", "false");
  await expect(nav.getByRole("link", { name: "Audit log" })).toBeHidden();

  await menu.click();
  await expect(menu).toHaveAttribute("aria-expanded", "true");
  for (const item of NAV_ITEMS) {
    const link = nav.getByRole("link", { name: item.label, exact: true });
    await expect(link).toBeInViewport();
  }
  await attachScreenshot(page, testInfo, "menu-open-390.png");

  await nav.getByRole("link", { name: "Approvals", exact: true }).click();
  await expect(page).toHaveURL(/\/approvals$/);
  await expect(menu).toHaveAttribute("aria-expanded", "false");
  await expect(menu).toContainText("Approvals");
});

test("an unknown address and an unknown skill are 404s inside the console's frame", async ({
  browser: _browser,
}, testInfo) => {
  const { page } = admin;
  await page.setViewportSize({ width: 1440, height: 900 });
  const missing = await page.goto("/no-such-page");
  expect(missing?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found", level: 1 })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Overview" })).toBeVisible();
  await attachScreenshot(page, testInfo, "not-found-1440.png");

  // Answered by the server: no "Loading the skill…" while the browser asks again.
  const skill = await page.goto("/skills/no.such.skill");
  expect(skill?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "No such skill", level: 1 })).toBeVisible();
  await expect(page.getByText("Loading the skill…")).toHaveCount(0);
});

test("the favicon is served to signed-out visitors (the sign-in page shows it)", async ({ request }) => {
  const icon = await request.get("/icon.svg", { maxRedirects: 0 });
  expect(icon.status()).toBe(200);
  expect(icon.headers()["content-type"]).toContain("image/svg+xml");
  // Pages still send the signed-out to sign in.
  const page = await request.get("/overview", { maxRedirects: 0 });
  expect(page.status()).toBe(307);
  expect(page.headers()["location"]).toContain("/signin");
});

/**
 * The console's defences seen from outside: CSRF on tRPC mutations, sign-in rate limiting,
 * what the browser's session holds, and the security headers.
 */
import type { BrowserContext } from "@playwright/test";
import { randomInt } from "node:crypto";
import type { Db } from "@clawgate/db";
import { ADMIN, expect, test } from "./fixtures.ts";
import { E2E_SIGNIN_LIMITS } from "./signin-limits.ts";
import { SAME_ORIGIN, signedInContext, trpcBody } from "./sign-in.ts";
import { E2E } from "./stack.ts";

test.describe("with an admin's session", () => {
  let context: BrowserContext;
  test.beforeAll(async ({ browser }) => {
    ({ context } = await signedInContext(browser, ADMIN.role));
  });
  test.afterAll(async () => {
    await context?.close();
  });

  test("the session the browser gets holds only id, name, email and role", async () => {
    const session = (await (await context.request.get("/api/auth/session")).json()) as Record<
      string,
      Record<string, unknown>
    >;
    expect(Object.keys(session).sort()).toEqual(["expires", "user"]);
    expect(Object.keys(session.user!).sort()).toEqual(["email", "id", "name", "role"]);
    expect(session.user).toMatchObject({ email: ADMIN.email, name: ADMIN.name, role: ADMIN.role });
  });

  /** A mutation an admin may call (flag.toggle), and what it would change. */
  async function flagAttempt(db: Db) {
    // Not "agent.tools": switching every skill off, even for a moment, would change what the
    // suite's runtime answers in the specs that follow.
    const flag = await db.featureFlag.findFirstOrThrow({
      where: { key: { not: "agent.tools" } },
      orderBy: { key: "asc" },
    });
    const path = "/api/trpc/flag.toggle";
    return {
      path,
      body: trpcBody({ key: flag.key, enabled: !flag.enabled }),
      unchanged: async () => {
        expect(await db.featureFlag.findUniqueOrThrow({ where: { key: flag.key } })).toEqual(flag);
      },
      // Back through the console's own call, so a new config revision tells the runtime too.
      restore: async () => {
        const now = await db.featureFlag.findUniqueOrThrow({ where: { key: flag.key } });
        if (now.enabled === flag.enabled) return;
        const res = await context.request.post(path, {
          headers: SAME_ORIGIN,
          data: trpcBody({ key: flag.key, enabled: flag.enabled }),
        });
        expect(res.status()).toBe(200);
      },
    };
  }

  test("a tRPC mutation from another origin, or without the console's header, is refused (403) and changes nothing", async ({
    db,
  }) => {
    const attempt = await flagAttempt(db);
    const audit = await db.auditLog.count();
    const refusals: [string, Record<string, string>, string][] = [
      ["another origin", { ...SAME_ORIGIN, origin: "https://evil.example" }, "cross-origin request"],
      ["a sibling port (same site, other origin)", { ...SAME_ORIGIN, origin: E2E.issuer }, "cross-origin request"],
      ["a cross-site fetch", { ...SAME_ORIGIN, origin: "", "sec-fetch-site": "cross-site" }, "cross-site request"],
      [
        "no x-trpc-source header (what an HTML form sends)",
        { origin: E2E.consoleUrl, "content-type": "text/plain" },
        "missing the x-trpc-source header",
      ],
    ];
    for (const [what, headers, reason] of refusals) {
      const clean = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== ""));
      const res = await context.request.post(attempt.path, { headers: clean, data: attempt.body });
      expect(res.status(), what).toBe(403);
      expect(JSON.stringify(await res.json()), what).toContain(reason);
    }
    await attempt.unchanged();
    expect(await db.auditLog.count()).toBe(audit);

    // The same call as the console's own pages make it goes through: the refusals were CSRF's.
    const ok = await context.request.post(attempt.path, { headers: SAME_ORIGIN, data: attempt.body });
    try {
      expect(ok.status()).toBe(200);
      expect(await db.auditLog.count()).toBe(audit + 1);
    } finally {
      await attempt.restore();
    }
  });

  test("a page on a sibling origin cannot post a mutation with the admin's cookies", async ({ db }) => {
    const attempt = await flagAttempt(db);
    const audit = await db.auditLog.count();
    const page = await context.newPage();
    // An attacker's page on the same site (localhost, another port), so SameSite cookies go along.
    const attackUrl = `${E2E.issuer}/csrf-attack.html`;
    const target = `${E2E.consoleUrl}${attempt.path}`;
    await page.route(attackUrl, (route) =>
      route.fulfill({
        contentType: "text/html",
        body: `<!doctype html><title>win a prize</title><form method="post" action="${target}" enctype="text/plain">
<input type="hidden" name='{"json":{"x":"' value='"}}'><button>Claim</button></form>`,
      }),
    );
    await page.goto(attackUrl);

    // A fetch with the console's header needs a CORS preflight the console never grants.
    const fetchResult = await page.evaluate(
      async ([url, body]) => {
        try {
          const res = await fetch(url!, {
            method: "POST",
            credentials: "include",
            headers: { "x-trpc-source": "console", "content-type": "application/json" },
            body,
          });
          return `status ${res.status}`;
        } catch (error) {
          return `blocked: ${(error as Error).name}`;
        }
      },
      [target, attempt.body],
    );
    expect(fetchResult).toBe("blocked: TypeError");

    // A plain form post (no preflight) reaches the console, which refuses it.
    const [response] = await Promise.all([
      page.waitForResponse(target),
      page.getByRole("button", { name: "Claim" }).click(),
    ]);
    expect(response.status()).toBe(403);
    await attempt.unchanged();
    expect(await db.auditLog.count()).toBe(audit);
    await page.close();
  });

  test("a sign-in link whose callbackUrl points off the console (backslash, tab, encoded) ends on the console", async () => {
    const page = await context.newPage();
    // Had the console sent Chromium away, the navigation would be recorded here and go nowhere.
    const offOrigin: string[] = [];
    await page.route(
      (url) => url.origin !== E2E.consoleUrl,
      (route) => {
        offOrigin.push(route.request().url());
        return route.abort();
      },
    );
    const callbacks = ["/%5Cevil.example/x", "/%09/evil.example/x", "/%255Cevil.example/x", "/%0a/evil.example"];
    for (const callbackUrl of callbacks) {
      await page.goto(`/signin?callbackUrl=${callbackUrl}`);
      await expect(page.getByRole("banner").getByTestId("role-badge"), callbackUrl).toHaveText(ADMIN.role);
      expect(new URL(page.url()).origin, callbackUrl).toBe(E2E.consoleUrl);
    }
    // A callback on the console itself is still followed.
    await page.goto(`/signin?callbackUrl=${encodeURIComponent("/audit?page=1")}`);
    await expect(page).toHaveURL(`${E2E.consoleUrl}/audit?page=1`);
    expect(offOrigin).toEqual([]);
    await page.close();
  });
});

test("over the sign-in limit per IP: 429 with Retry-After, and the sign-in page says how long to wait", async ({
  browser,
}, testInfo) => {
  // Its own client address (the e2e console trusts the nearest X-Forwarded-For entry, as behind
  // a reverse proxy), so the rest of the suite, signing in from 127.0.0.1, is not affected.
  const ip = `203.0.113.${randomInt(1, 255)}`;
  const context = await browser.newContext({ baseURL: E2E.consoleUrl, extraHTTPHeaders: { "x-forwarded-for": ip } });
  try {
    const attempts = await Promise.all(
      Array.from({ length: E2E_SIGNIN_LIMITS.perIp }, () =>
        context.request.post("/api/auth/signin/oidc", { maxRedirects: 0, form: { json: "true" } }),
      ),
    );
    expect(attempts.filter((r) => r.status() === 429)).toHaveLength(0);

    const limited = await context.request.post("/api/auth/signin/oidc", { maxRedirects: 0, form: { json: "true" } });
    expect(limited.status()).toBe(429);
    const retryAfter = Number(limited.headers()["retry-after"]);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(E2E_SIGNIN_LIMITS.windowSeconds);
    expect(await limited.json()).toMatchObject({
      error: "RateLimited",
      url: expect.stringContaining("/signin?error=RateLimited"),
    });

    // Another client is not affected.
    const other = await context.request.post("/api/auth/signin/oidc", {
      maxRedirects: 0,
      headers: { "x-forwarded-for": "198.51.100.20" },
    });
    expect(other.status()).not.toBe(429);

    // In the browser: the SSO button lands on the sign-in page with the message.
    const page = await context.newPage();
    await page.goto("/signin");
    await page.getByRole("button", { name: "Sign in with SSO" }).click();
    await expect(page).toHaveURL(/\/signin\?error=RateLimited&retryAfter=\d+/);
    await expect(
      page
        .getByRole("alert")
        .filter({ hasText: /^Too many sign-in attempts\. Try again in (\d+ seconds|1 minute)\.$/ }),
    ).toBeVisible();
    await page.screenshot({ path: testInfo.outputPath("signin-rate-limited.png") });

    // Coming back from the IdP (a navigation) gets a 429 page.
    const callback = await page.goto("/api/auth/callback/oidc?code=x&state=y");
    expect(callback?.status()).toBe(429);
    await expect(page.getByRole("heading", { name: "Too many sign-in attempts" })).toBeVisible();
    await page.getByRole("link", { name: "Back to sign-in" }).click();
    await expect(page.getByRole("alert").filter({ hasText: "Too many sign-in attempts" })).toBeVisible();
  } finally {
    await context.close();
  }
});

test("security headers: CSP with frame-ancestors, frame and permissions policies, no HSTS over http", async ({
  request,
}) => {
  const headers = (await request.get("/signin")).headers();
  expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
  expect(headers["content-security-policy"]).toContain("object-src 'none'");
  expect(headers["x-frame-options"]).toBe("DENY");
  expect(headers["permissions-policy"]).toContain("camera=()");
  expect(headers["cross-origin-opener-policy"]).toBe("same-origin");
  expect(headers["strict-transport-security"]).toBeUndefined(); // plain http here; sent once NEXTAUTH_URL is https
  expect(headers["x-powered-by"]).toBeUndefined();

  const api = (await request.get("/api/auth/session")).headers();
  expect(api["content-security-policy"]).toContain("default-src 'none'");
});

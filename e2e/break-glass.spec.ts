/**
 * Break-glass with the identity provider down. The suite's own OIDC provider serves every other
 * spec, so it is not stopped: this spec starts a second console from the same production build
 * (`next start`, dist `.next-e2e`, same database) whose OIDC_ISSUER points at a port where nothing
 * listens, proves SSO cannot sign anyone in there, then uses `clawgate break-glass` (the real CLI,
 * database access only): the link signs the operator in once, the second use is refused, the
 * incident asks for a review, and the session ends with the TTL.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { DEMO_OIDC_CLIENT } from "@clawgate/devstack/ports";
import { expect, STORAGE_STATE, test } from "./fixtures.ts";
import { E2E_SIGNIN_LIMIT_ENV } from "./signin-limits.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const PORT = Number(process.env.E2E_BREAK_GLASS_CONSOLE_PORT ?? 3011);
const CONSOLE = `http://localhost:${PORT}`;
/** Nothing listens here: the console's identity provider is down. */
const DEAD_ISSUER = `http://127.0.0.1:${Number(process.env.E2E_DEAD_OIDC_PORT ?? 3111)}`;
const OPERATOR = "operator@clawgate.local";
const TTL_SECONDS = 30;

let server: ChildProcess | undefined;

async function startConsoleWithoutIdp(): Promise<void> {
  server = spawn(process.execPath, [path.join(ROOT, "node_modules/next/dist/bin/next"), "start", "-p", String(PORT)], {
    cwd: path.join(ROOT, "apps/console"),
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
    env: {
      ...process.env,
      DATABASE_URL: process.env.DATABASE_URL,
      NEXTAUTH_URL: CONSOLE,
      NEXTAUTH_SECRET: "e2e-only-nextauth-secret-0123456789abcdef",
      OIDC_ISSUER: DEAD_ISSUER,
      OIDC_CLIENT_ID: DEMO_OIDC_CLIENT.clientId,
      OIDC_CLIENT_SECRET: DEMO_OIDC_CLIENT.clientSecret,
      NEXT_TELEMETRY_DISABLED: "1",
      CLAWGATE_NEXT_DIST_DIR: ".next-e2e",
      ...E2E_SIGNIN_LIMIT_ENV,
    },
  });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const up = await fetch(`${CONSOLE}/api/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return;
    if (server.exitCode !== null) throw new Error(`the IdP-less console exited with ${server.exitCode}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the IdP-less console did not answer on ${CONSOLE} within 60 s`);
}

/** `clawgate break-glass` as an operator would run it, pointed at the IdP-less console. */
async function breakGlass(email: string, ttl: string, reason: string): Promise<string> {
  const cli = spawn(
    process.execPath,
    [path.join(ROOT, "apps/bot/bin/clawgate.mjs"), "break-glass", "--email", email, "--ttl", ttl, "--reason", reason],
    {
      cwd: ROOT,
      env: { ...process.env, CLAWGATE_CONSOLE_URL: CONSOLE, LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  let err = "";
  cli.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  cli.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const [code] = (await once(cli, "exit")) as [number];
  expect(err, "break-glass wrote no error").toBe("");
  expect(code).toBe(0);
  const link = new RegExp(`${CONSOLE}/break-glass/[\\w-]+`).exec(out)?.[0];
  expect(link, out).toBeTruthy();
  return link!;
}

test.beforeAll(async () => {
  test.setTimeout(120_000);
  await startConsoleWithoutIdp();
});
test.afterAll(async () => {
  if (server?.pid && server.exitCode === null) {
    process.kill(-server.pid, "SIGTERM"); // its own process group: next start and its workers
    await once(server, "exit");
  }
});

test("with the IdP down, a break-glass link signs in once, a second use is refused, the incident asks for review", async ({
  browser,
  db,
  tag,
}) => {
  test.setTimeout(180_000);

  // SSO cannot sign anyone in on this console: the provider does not answer.
  const sso = await browser.newContext({ baseURL: CONSOLE });
  const ssoPage = await sso.newPage();
  await ssoPage.goto("/signin");
  await ssoPage.getByRole("button", { name: "Sign in with SSO" }).click();
  await expect(ssoPage).toHaveURL(/\/signin\?.*error=/);
  expect((await sso.cookies()).some((c) => c.name.endsWith("next-auth.session-token"))).toBe(false);
  await sso.close();

  const reason = `IdP down ${tag}`;
  const link = await breakGlass(OPERATOR, `${TTL_SECONDS}s`, reason);
  const issuedAt = Date.now();
  const grant = await db.breakGlassGrant.findFirstOrThrow({ where: { reason } });
  const incidentId = grant.incidentId!;
  const operator = await db.user.findUniqueOrThrow({ where: { email: OPERATOR } });
  const sessionsBefore = await db.session.count({ where: { userId: operator.id } });

  // First use: the page says who and until when; the button signs in and lands on the incident.
  const first = await browser.newContext({ baseURL: CONSOLE });
  const page = await first.newPage();
  await page.goto(link);
  await expect(page.getByRole("heading", { name: `Sign in as ${OPERATOR}` })).toBeVisible();
  await page.getByRole("button", { name: "Sign in once" }).click();
  await expect(page).toHaveURL(`${CONSOLE}/incidents/${incidentId}`);
  await expect(page.getByRole("banner").getByTestId("role-badge")).toHaveText("OPERATOR");
  // Incident titles are free text: personal data in them (the email) is masked as written.
  await expect(page.getByText(`Break-glass sign-in for [email]: ${reason}`).first()).toBeVisible();
  await expect(page.getByTestId("incident-status")).toHaveText("Open");
  await expect(page.getByTestId("review-prompt")).toContainText("Needs a review once it ends");
  await expect(page.locator('[data-testid="timeline-entry"][data-kind="sign_in"]')).toContainText(OPERATOR);
  expect(await db.session.count({ where: { userId: operator.id } })).toBe(sessionsBefore + 1);
  const session = await db.session.findFirstOrThrow({ where: { userId: operator.id, notAfter: grant.expiresAt } });
  expect(session.expires.getTime()).toBeLessThanOrEqual(grant.expiresAt.getTime());
  expect(
    await db.auditLog.count({ where: { action: "auth.sign_in", targetId: operator.id, at: { gte: grant.createdAt } } }),
  ).toBe(1);

  // The Incidents page lists it.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Incidents" }).click();
  await expect(page.getByTestId(`incident-${incidentId}`)).toContainText(reason);

  // Second use, from another browser: refused with a clear page; nothing changes.
  const audit = await db.auditLog.count();
  const second = await browser.newContext({ baseURL: CONSOLE });
  const again = await second.newPage();
  await again.goto(link);
  await expect(again.getByRole("heading", { name: "This link cannot sign you in" })).toBeVisible();
  await expect(again.getByRole("alert").filter({ hasText: "already used" })).toBeVisible();
  // Even a replayed form post (the page no longer offers the button) is refused.
  const replay = await second.request.post("/api/break-glass", {
    form: { token: link.split("/").pop()! },
    headers: { origin: CONSOLE },
    maxRedirects: 0,
  });
  expect(replay.status()).toBe(303);
  expect(replay.headers()["set-cookie"]).toBeUndefined();
  expect(await db.session.count({ where: { userId: operator.id } })).toBe(sessionsBefore + 1);
  expect(await db.auditLog.count()).toBe(audit);
  await second.close();

  // The session ends with the TTL, however it was used meanwhile.
  await page.waitForTimeout(Math.max(0, issuedAt + TTL_SECONDS * 1_000 + 1_500 - Date.now()));
  await page.goto(`/incidents/${incidentId}`);
  await expect(page).toHaveURL(/\/signin/);
  await first.close();

  // Once the grant ended, the incident needs a review: an admin (stored SSO session, no IdP needed) records it.
  const admin = await browser.newContext({ baseURL: CONSOLE, storageState: STORAGE_STATE.ADMIN });
  const adminPage = await admin.newPage();
  await adminPage.goto(`/incidents/${incidentId}`);
  await expect(adminPage.getByTestId("incident-status")).toHaveText("Needs review");
  await expect(adminPage.getByTestId("review-prompt")).toContainText("Needs review");
  await adminPage.getByLabel("What happened, and what was learned").fill(`Drill ${tag}: break-glass worked.`);
  await adminPage.getByRole("button", { name: "Record review" }).click();
  await expect(adminPage.getByTestId("incident-status")).toHaveText("Reviewed");
  await admin.close();
});

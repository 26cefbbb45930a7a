/** Who may sign in: against real PostgreSQL (users, the shared per-email limiter). */
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "@clawgate/db";
// Relative import, as in vitest.config.ts: the console does not depend on devstack.
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { createSignInLimiter, limiterPool, type SignInLimiter } from "./rate-limit.ts";
import { signInDecision } from "./sign-in-policy.ts";

const CONSOLE = "https://console.example.test";
let testDb: TestDatabase;
let db: Db;
let pool: pg.Pool;
let limiter: SignInLimiter;

beforeAll(async () => {
  testDb = await createTestDatabase({ prefix: "clawgate_signin" });
  db = createDb(testDb.url, { max: 2 });
  pool = limiterPool(testDb.url);
  limiter = await createSignInLimiter(pool, { perIp: 100, perEmail: 3, windowSeconds: 600 });
  await db.user.createMany({
    data: [
      { email: "ada@example.test", name: "Ada", role: "ADMIN" },
      { email: "gone@example.test", name: "Gone", role: "VIEWER", disabledAt: new Date() },
    ],
  });
});
afterAll(async () => {
  await db.$disconnect();
  await pool.end();
  await testDb.drop();
});

const decide = (provider: string, profile: unknown, user: unknown = {}) =>
  signInDecision({ db, limiter, consoleUrl: CONSOLE }, { provider, profile, user });
const oidc = (email: string, verified = true) => ({ sub: email, email, email_verified: verified });

describe("signInDecision", () => {
  it("signs in SSO users with a verified email, known or new (the adapter makes new ones VIEWER)", async () => {
    expect(await decide("oidc", oidc("Ada@Example.test"))).toBe(true);
    expect(await decide("oidc", oidc("newcomer@example.test"))).toBe(true);
  });

  it("refuses SSO without a verified email, and disabled users", async () => {
    expect(await decide("oidc", oidc("bob@example.test", false))).toBe(false);
    expect(await decide("oidc", { sub: "x" })).toBe(false);
    expect(await decide("oidc", oidc("gone@example.test"))).toBe(false);
  });

  it("signs in a DingTalk account only by the email of a user the console knows", async () => {
    expect(await decide("dingtalk", { unionId: "u1", nick: "Ada", email: " ADA@example.test " })).toBe(true);
    expect(await decide("dingtalk", { unionId: "u2", nick: "Sam", email: "sam@example.test" })).toBe(
      `${CONSOLE}/signin?error=DingTalkUnknownUser`,
    );
    expect(await decide("dingtalk", { unionId: "u3", nick: "Nora" })).toBe(`${CONSOLE}/signin?error=DingTalkNoEmail`);
    expect(await decide("dingtalk", { unionId: "u4", nick: "Gone", email: "gone@example.test" })).toBe(false);
    expect(await db.user.count({ where: { email: "sam@example.test" } })).toBe(0);
  });

  it("refuses an email over its sign-in limit with the wait, whichever provider", async () => {
    const email = "burst@example.test";
    // Counted per email, whichever provider the attempt came through (the DingTalk one is refused
    // anyway: nobody has this email yet, but it counts).
    for (let i = 0; i < 3; i++)
      expect(
        String(await decide(i % 2 ? "dingtalk" : "oidc", i % 2 ? { unionId: "b", email } : oidc(email))),
      ).not.toContain("RateLimited");
    const refused = await decide("oidc", oidc(email));
    expect(refused).toMatch(new RegExp(`^${CONSOLE}/signin\\?error=RateLimited&retryAfter=\\d+$`));
    expect(Number(new URL(refused as string).searchParams.get("retryAfter"))).toBeGreaterThan(590);
    expect(await decide("oidc", oidc("other@example.test"))).toBe(true);
  });
});

import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// Relative import, as in vitest.config.ts: the console does not depend on devstack.
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import {
  clientIp,
  createSignInLimiter,
  limiterPool,
  SIGNIN_LIMIT_SCHEMA,
  SIGNIN_LIMIT_TABLE,
  tooManyAttempts,
  waitText,
} from "./rate-limit.ts";

describe("sign-in limiter on PostgreSQL", () => {
  let db: TestDatabase;
  const pools: pg.Pool[] = [];
  const pool = () => {
    const p = limiterPool(db.url);
    pools.push(p);
    return p;
  };

  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false, prefix: "clawgate_rl" });
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await db.drop();
  });

  it("allows the configured attempts per IP, then says how long to wait; other IPs are unaffected", async () => {
    const limiter = await createSignInLimiter(pool(), { perIp: 3, perEmail: 2, windowSeconds: 600 });
    for (let i = 0; i < 3; i++) expect(await limiter.byIp("203.0.113.1")).toBeUndefined();
    const wait = await limiter.byIp("203.0.113.1");
    expect(wait).toBeGreaterThan(590);
    expect(wait).toBeLessThanOrEqual(600);
    expect(await limiter.byIp("203.0.113.2")).toBeUndefined();
  });

  it("shares the counts between replicas (two limiters, two pools, one table outside Prisma's schema)", async () => {
    const limits = { perIp: 2, perEmail: 2, windowSeconds: 60 };
    const [a, b] = await Promise.all([createSignInLimiter(pool(), limits), createSignInLimiter(pool(), limits)]);
    expect(await a.byIp("198.51.100.7")).toBeUndefined();
    expect(await b.byIp("198.51.100.7")).toBeUndefined();
    expect(await a.byIp("198.51.100.7")).toBeGreaterThan(0);
    expect(await b.byIp("198.51.100.7")).toBeGreaterThan(0);

    const tables = await pools[0]!.query<{ table_schema: string }>(
      `SELECT table_schema FROM information_schema.tables WHERE table_name = $1`,
      [SIGNIN_LIMIT_TABLE],
    );
    expect(tables.rows).toEqual([{ table_schema: SIGNIN_LIMIT_SCHEMA }]);
  });

  it("limits completed sign-ins per email, case-insensitively, apart from the IP counts", async () => {
    const limiter = await createSignInLimiter(pool(), { perIp: 100, perEmail: 2, windowSeconds: 60 });
    expect(await limiter.byEmail("Ada@Example.test")).toBeUndefined();
    expect(await limiter.byEmail("ada@example.test ")).toBeUndefined();
    expect(await limiter.byEmail("ADA@example.test")).toBeGreaterThan(0);
    expect(await limiter.byEmail("bob@example.test")).toBeUndefined();
    expect(await limiter.byIp("ada@example.test")).toBeUndefined();
  });

  it("keeps limiting per instance when the table is gone (insurance limiter)", async () => {
    const p = pool();
    const limiter = await createSignInLimiter(p, { perIp: 2, perEmail: 2, windowSeconds: 60 });
    await p.query(`DROP SCHEMA ${SIGNIN_LIMIT_SCHEMA} CASCADE`);
    expect(await limiter.byIp("192.0.2.9")).toBeUndefined();
    expect(await limiter.byIp("192.0.2.9")).toBeUndefined();
    expect(await limiter.byIp("192.0.2.9")).toBeGreaterThan(0);
    // The next limiter (a restarted replica) creates the table again.
    const again = await createSignInLimiter(p, { perIp: 1, perEmail: 1, windowSeconds: 60 });
    expect(await again.byIp("192.0.2.9")).toBeUndefined();
    expect(await again.byIp("192.0.2.9")).toBeGreaterThan(0);
  });
});

describe("clientIp", () => {
  const h = (xff?: string) => new Headers(xff === undefined ? {} : { "x-forwarded-for": xff });

  it("takes the entry the nearest proxy (or Next.js) appended, ignoring what the client put before it", () => {
    expect(clientIp(h("127.0.0.1"), 1)).toBe("127.0.0.1");
    expect(clientIp(h("6.6.6.6, 203.0.113.5"), 1)).toBe("203.0.113.5");
    expect(clientIp(h("6.6.6.6, 203.0.113.5, 10.0.0.2"), 2)).toBe("203.0.113.5");
  });

  it("falls back to the leftmost entry when there are fewer than the hops, and to 'unknown'", () => {
    expect(clientIp(h("203.0.113.5"), 3)).toBe("203.0.113.5");
    expect(clientIp(h(), 1)).toBe("unknown");
    expect(clientIp(h(" , "), 1)).toBe("unknown");
  });
});

describe("tooManyAttempts", () => {
  const signIn = "https://console.example.test/signin";

  it("answers next-auth's fetch with 429 JSON whose url shows the message on the sign-in page", async () => {
    const res = tooManyAttempts(
      new Request("https://console.example.test/api/auth/signin/oidc", { method: "POST" }),
      125,
      signIn,
    );
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("125");
    expect(await res.json()).toEqual({
      error: "RateLimited",
      message: "Too many sign-in attempts. Try again in 3 minutes.",
      url: `${signIn}?error=RateLimited&retryAfter=125`,
    });
  });

  it("answers a browser navigation with a 429 HTML page", async () => {
    const req = new Request("https://console.example.test/api/auth/callback/oidc?code=x", {
      headers: { accept: "text/html,application/xhtml+xml" },
    });
    const res = tooManyAttempts(req, 30, signIn);
    expect(res.status).toBe(429);
    expect(res.headers.get("content-type")).toContain("text/html");
    const html = await res.text();
    expect(html).toContain("Try again in 30 seconds.");
    expect(html).toContain(`href="${signIn}?error=RateLimited&#38;retryAfter=30"`);
  });

  it("says seconds below a minute and whole minutes above", () => {
    expect(waitText(1)).toBe("1 second");
    expect(waitText(59)).toBe("59 seconds");
    expect(waitText(60)).toBe("1 minute");
    expect(waitText(61)).toBe("2 minutes");
  });
});

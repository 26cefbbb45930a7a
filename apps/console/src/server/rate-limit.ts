/**
 * Sign-in rate limiting (rate-limiter-flexible on PostgreSQL, so every console replica shares
 * the counts): attempts per client IP on next-auth's sign-in and callback routes, and completed
 * identity-provider sign-ins per email. When PostgreSQL does not answer, a per-instance memory
 * limiter with the same limits decides instead (sign-in then fails on the database anyway).
 */
import { createStorablePool } from "@clawgate/db";
import type pg from "pg";
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from "rate-limiter-flexible";

/** Our own schema: `prisma migrate dev` owns `public` and would report the table as drift. */
export const SIGNIN_LIMIT_SCHEMA = "clawgate_console";
export const SIGNIN_LIMIT_TABLE = "signin_limits";

const DDL = `
CREATE SCHEMA IF NOT EXISTS ${SIGNIN_LIMIT_SCHEMA};
CREATE TABLE IF NOT EXISTS ${SIGNIN_LIMIT_SCHEMA}.${SIGNIN_LIMIT_TABLE} (
  key varchar(255) PRIMARY KEY,
  points integer NOT NULL DEFAULT 0,
  expire bigint
);`;

/**
 * The limiter's small pool. A client whose connection drops (database restarted, or a test
 * database dropped while a closed pool's sockets are still closing) emits "error" on itself:
 * every client gets a listener, so that can never crash the console.
 */
export function limiterPool(url: string, applicationName = "clawgate-console-ratelimit"): pg.Pool {
  const pool = createStorablePool({ connectionString: url, max: 2, application_name: applicationName });
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  return pool;
}

export interface SignInLimits {
  perIp: number;
  perEmail: number;
  windowSeconds: number;
}

export interface SignInLimiter {
  /** Counts one attempt from this IP; the whole seconds to wait when it is over the limit. */
  byIp(ip: string): Promise<number | undefined>;
  /** Counts one completed sign-in for this email; the whole seconds to wait when over the limit. */
  byEmail(email: string): Promise<number | undefined>;
}

/** Concurrent first starts race on CREATE … IF NOT EXISTS; the loser's duplicate error is fine. */
async function ensureTable(pool: pg.Pool): Promise<void> {
  try {
    await pool.query(DDL);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== "23505" && code !== "42P06" && code !== "42P07") throw error;
  }
}

export async function createSignInLimiter(pool: pg.Pool, limits: SignInLimits): Promise<SignInLimiter> {
  await ensureTable(pool);
  const limiter = (keyPrefix: string, points: number) =>
    new RateLimiterPostgres({
      storeClient: pool,
      storeType: "pool",
      schemaName: SIGNIN_LIMIT_SCHEMA,
      tableName: SIGNIN_LIMIT_TABLE,
      tableCreated: true,
      keyPrefix,
      points,
      duration: limits.windowSeconds,
      // The database is down or slow: limit per instance rather than not at all.
      insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration: limits.windowSeconds }),
    });
  const ip = limiter("signin-ip", limits.perIp);
  const email = limiter("signin-email", limits.perEmail);

  const consume = async (rl: RateLimiterPostgres, key: string): Promise<number | undefined> => {
    try {
      await rl.consume(key);
      return undefined;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      throw rejection;
    }
  };
  return {
    byIp: (address) => consume(ip, address),
    byEmail: (address) => consume(email, address.trim().toLowerCase()),
  };
}

/**
 * The client's address: the X-Forwarded-For entry `hops` places from the right. Next.js sets
 * the header to the socket's address when a request arrives without one; a reverse proxy
 * appends the address it saw. Entries further left are whatever the client sent.
 */
export function clientIp(headers: Headers, hops: number): string {
  const entries = (headers.get("x-forwarded-for") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const picked = entries[Math.max(0, entries.length - hops)];
  return (picked ?? headers.get("x-real-ip") ?? "unknown").slice(0, 100);
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function waitText(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? "" : "s"}`;
}

/**
 * 429 with Retry-After. next-auth's client posts to the sign-in route with fetch and follows the
 * `url` of the JSON it gets back, so a fetch gets JSON pointing at the sign-in page with the
 * message; a browser navigation (the IdP's redirect to the callback) gets a small HTML page.
 */
export function tooManyAttempts(req: Request, retryAfterSeconds: number, signInPageUrl: string): Response {
  const headers = { "retry-after": String(retryAfterSeconds), "cache-control": "no-store" };
  const url = `${signInPageUrl}?error=RateLimited&retryAfter=${retryAfterSeconds}`;
  const message = `Too many sign-in attempts. Try again in ${waitText(retryAfterSeconds)}.`;
  if (!(req.headers.get("accept") ?? "").includes("text/html")) {
    return Response.json({ error: "RateLimited", message, url }, { status: 429, headers });
  }
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Too many sign-in attempts · Clawgate</title></head><body>
<main><h1>Too many sign-in attempts</h1><p role="alert">${escapeHtml(message)}</p>
<p><a href="${escapeHtml(url)}">Back to sign-in</a></p></main></body></html>`;
  return new Response(html, { status: 429, headers: { ...headers, "content-type": "text/html; charset=utf-8" } });
}

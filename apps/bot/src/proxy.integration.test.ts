/**
 * The deployment's public edge for real: Debian's nginx with the repo's config
 * (deploy/nginx/clawgate.conf + dingtalk-ingress.conf) and a throwaway certificate, in front of a
 * real `clawgate serve`. Over HTTPS a signed DingTalk callback is answered; the runtime's
 * operational endpoints and anything console-shaped are not reachable; an oversized body is
 * refused by the proxy before the runtime sees a byte; a flood is rate limited.
 */
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APP_KEY, APP_SECRET, counts, robotMessage, signedHeaders } from "../test/dingtalk.ts";
import { killChild, startServe, type CliProcess } from "../test/helpers.ts";
import { startNginx, type RunningNginx } from "../test/nginx.ts";

/** POST/GET through the edge; the status and body text. */
async function viaEdge(
  edge: RunningNginx,
  pathname: string,
  init: { method?: "GET" | "POST"; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; text: string }> {
  const res = await request(`${edge.base}${pathname}`, {
    method: init.method ?? "GET",
    headers: init.headers,
    body: init.body,
    dispatcher: edge.dispatcher,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  return { status: res.statusCode, text: await res.body.text() };
}

// With a token, /metrics answers on the runtime's own port too (bearer only): still never through the edge.
const METRICS_TOKEN = "edge-test-metrics-token-0123";
const scrape = (base: string) => fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });

/** Requests the runtime itself has answered on POST routes (its own request histogram). */
async function runtimePostRequests(base: string): Promise<number> {
  const text = await (await scrape(base)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith("clawgate_http_request_duration_seconds_count{") && l.includes('method="POST"'))
    .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}

describe("the nginx edge in front of the runtime", () => {
  let testDb: TestDatabase;
  let runtime: { cli: CliProcess; base: string; metricsBase: string };
  let edge: RunningNginx;

  beforeAll(async () => {
    testDb = await createTestDatabase({ prefix: "clawgate_bot_edge" });
    runtime = await startServe({
      DATABASE_URL: testDb.url,
      LOG_LEVEL: "warn",
      DINGTALK_MODE: "http",
      DINGTALK_APP_KEY: APP_KEY,
      DINGTALK_APP_SECRET: APP_SECRET,
      // An ingress-only replica: this test is about what reaches it, not about replies.
      WORKER_CONCURRENCY: "0",
      METRICS_TOKEN,
    });
    edge = await startNginx({ upstream: new URL(runtime.base).host });
  }, 60_000);

  afterAll(async () => {
    await edge?.close();
    await killChild(runtime?.cli);
    await testDb?.drop();
  });

  it("forwards a signed robot callback over HTTPS and the runtime stores it", async () => {
    const message = robotMessage();
    const res = await viaEdge(edge, "/dingtalk/robot", {
      method: "POST",
      headers: signedHeaders(),
      body: JSON.stringify(message),
    });
    expect(res.status).toBe(200);
    expect((await counts(testDb.url)).inbound).toBe(1);

    // Verification stays the runtime's job: an unsigned callback crosses the proxy and is refused.
    const unsigned = await viaEdge(edge, "/dingtalk/robot", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(robotMessage()),
    });
    expect(unsigned.status).toBe(401);
    expect((await counts(testDb.url)).inbound).toBe(1);

    // Event subscription is forwarded too: this runtime has no event crypto configured and says so.
    const event = await viaEdge(edge, "/dingtalk/events", { method: "POST", body: '{"encrypt":"x"}' });
    expect(event.status).toBe(503);
    expect(event.text).toContain("DINGTALK_TOKEN");
  });

  it("does not expose the runtime's operational endpoints or any other path", async () => {
    // The runtime serves these itself (/metrics to the bearer token only, on both its listeners)...
    for (const p of ["/ready", "/healthz"]) expect((await fetch(`${runtime.base}${p}`)).status, p).toBe(200);
    for (const base of [runtime.base, runtime.metricsBase]) {
      expect((await scrape(base)).status).toBe(200);
      expect((await fetch(`${base}/metrics`)).status).toBe(401);
    }
    // ...but not through the edge, not even with the token.
    expect((await viaEdge(edge, "/metrics", { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(
      404,
    );
    for (const p of [
      "/metrics",
      "/ready",
      "/healthz",
      "/",
      "/api/health",
      "/api/trpc/skills.list",
      "/api/auth/session",
      "/signin",
      "/dingtalk/robot/../../metrics",
      "/dingtalk/robotx",
      "/dingtalk/robot/extra",
    ])
      expect((await viaEdge(edge, p)).status, p).toBe(404);
    expect((await viaEdge(edge, "/metrics", { method: "POST", body: "{}" })).status).toBe(404);
    // The DingTalk paths take POST only.
    for (const p of ["/dingtalk/robot", "/dingtalk/events", "/dingtalk/card"])
      expect((await viaEdge(edge, p)).status, `GET ${p}`).toBe(403);
  });

  it("answers an oversized body 413 itself: nothing reaches the runtime", async () => {
    const before = { posts: await runtimePostRequests(runtime.base), rows: await counts(testDb.url) };
    const padded = JSON.stringify(robotMessage({ text: { content: "x".repeat(100 * 1024) } }));
    const res = await viaEdge(edge, "/dingtalk/robot", { method: "POST", headers: signedHeaders(), body: padded });
    expect(res.status).toBe(413);
    expect(edge.errorLog()).toContain("client intended to send too large body");
    expect(await runtimePostRequests(runtime.base)).toBe(before.posts);
    expect(await counts(testDb.url)).toEqual(before.rows);
  });

  it("rate limits a flood per client address with 429", async () => {
    const statuses = await Promise.all(
      Array.from({ length: 300 }, () => viaEdge(edge, "/dingtalk/robot").then((r) => r.status)),
    );
    const tally = statuses.reduce<Record<number, number>>((t, s) => ({ ...t, [s]: (t[s] ?? 0) + 1 }), {});
    expect(Object.keys(tally).sort()).toEqual(["403", "429"]);
    expect(tally[429]).toBeGreaterThan(0);
  });
});

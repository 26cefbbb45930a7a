/**
 * The HTTP ingress against real PostgreSQL over real HTTP: what is stored and enqueued for
 * valid, duplicate, unsigned, stale, oversized and malformed callbacks, and the event
 * subscription endpoint (check_url, bad signature, robot messages, missing config).
 */
import { DingTalkCrypto } from "@clawgate/dingtalk";
import { createDb, type Db } from "@clawgate/db";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AES_KEY, APP_KEY, APP_SECRET, counts, robotMessage, signedHeaders, TOKEN } from "../test/dingtalk.ts";
import { query } from "../test/helpers.ts";
import { createPgPool } from "./db-pool.ts";
import { createIngest } from "./ingress/ingest.ts";
import { createLogger } from "./logger.ts";
import { buildServer, type BotServer } from "./server.ts";
import { prepareQueueSchema } from "./worker/queue.ts";
import { traceIdFrom } from "./trace.ts";

/** The trace id the runtime stores for a request id (32 hex: the one it sends on in traceparent). */
const traced = (requestId: string) => traceIdFrom({ "x-request-id": requestId });

const NOW = 1_800_000_000_000;
const HOUR = 3_600_000;

let testDb: TestDatabase;
let db: Db;
let pool: pg.Pool;
let app: BotServer;
let base: string;

const env = {
  DINGTALK_MODE: "http" as const,
  DINGTALK_APP_KEY: APP_KEY,
  DINGTALK_APP_SECRET: APP_SECRET,
  DINGTALK_TOKEN: TOKEN,
  DINGTALK_AES_KEY: AES_KEY,
};

beforeAll(async () => {
  testDb = await createTestDatabase({ prefix: "clawgate_bot_ingress" });
  db = createDb(testDb.url);
  pool = createPgPool(testDb.url, { applicationName: "test-ingress" });
  await prepareQueueSchema(pool);
  app = buildServer({
    env,
    db,
    logger: createLogger("silent"),
    ingest: createIngest({ pool, robotCode: APP_KEY }),
    now: () => NOW,
  });
  base = await app.listen({ host: "127.0.0.1", port: 0 });
});
afterAll(async () => {
  await app?.close();
  await pool?.end();
  await db?.$disconnect();
  await testDb?.drop();
});

const post = (path: string, body: string, headers: Record<string, string>) =>
  fetch(`${base}${path}`, { method: "POST", body, headers, signal: AbortSignal.timeout(5_000) });
const robot = (body: unknown, headers = signedHeaders(String(NOW))) =>
  post("/dingtalk/robot", typeof body === "string" ? body : JSON.stringify(body), headers);

describe("POST /dingtalk/robot", () => {
  it("stores a valid message with one job carrying the trace id, and answers 200", async () => {
    const before = await counts(testDb.url);
    const msg = robotMessage();
    const res = await robot(msg, { ...signedHeaders(String(NOW)), "x-request-id": "trace-ingress-1" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ msgtype: "empty" });
    expect(await counts(testDb.url)).toEqual({ inbound: before.inbound + 1, jobs: before.jobs + 1 });
    const [row] = await query<{
      id: string;
      robotCode: string;
      channel: string;
      senderId: string;
      traceId: string;
      status: string;
    }>(
      testDb.url,
      `SELECT id, "robotCode", channel, "senderId", "traceId", status FROM "InboundMessage" WHERE "msgId" = $1`,
      [msg.msgId],
    );
    expect(row).toMatchObject({
      robotCode: APP_KEY,
      channel: "HTTP",
      senderId: "staff-1",
      traceId: traced("trace-ingress-1"),
      status: "RECEIVED",
    });
    const jobs = await query<{ payload: unknown }>(
      testDb.url,
      `SELECT payload FROM graphile_worker._private_jobs WHERE payload->>'inboundId' = $1`,
      [row!.id],
    );
    expect(jobs).toEqual([{ payload: { inboundId: row!.id, traceId: traced("trace-ingress-1") } }]);
  });

  it("stores NUL and lone surrogates made storable (200), and acknowledges a message PostgreSQL still refuses as a dead letter", async () => {
    const msg = robotMessage({ text: { content: "nul \u0000 and \ud800" } });
    const res = await robot(msg, { ...signedHeaders(String(NOW)), "x-request-id": "trace-nul" });
    expect(res.status).toBe(200);
    const [row] = await query<{ content: string; alteredChars: number }>(
      testDb.url,
      `SELECT "payload"->'text'->>'content' AS content, "alteredChars" FROM "InboundMessage" WHERE "msgId" = $1`,
      [msg.msgId],
    );
    expect(row).toEqual({ content: "nul  and \ufffd", alteredChars: 2 });

    // A data error the rule cannot fix (a constraint of this test's database): 200, a dead letter, no row, no job.
    await pool.query(`ALTER TABLE "InboundMessage" ADD CONSTRAINT "no_refused" CHECK ("msgId" <> 'refused-1')`);
    try {
      const before = await counts(testDb.url);
      const refused = await robot(robotMessage({ msgId: "refused-1" }), {
        ...signedHeaders(String(NOW)),
        "x-request-id": "trace-refused",
      });
      expect(refused.status).toBe(200);
      expect(await counts(testDb.url)).toEqual(before);
      const letters = await query<{ source: string; errorCode: string; traceId: string }>(
        testDb.url,
        `SELECT source, "errorCode", "traceId" FROM "DeadLetter" WHERE "msgId" = 'refused-1'`,
      );
      expect(letters).toEqual([{ source: "INGRESS", errorCode: "23514", traceId: traced("trace-refused") }]);
    } finally {
      await pool.query(`ALTER TABLE "InboundMessage" DROP CONSTRAINT "no_refused"`);
    }
  });

  it("acknowledges a duplicate (same robotCode + msgId) without a second row or job", async () => {
    const msg = robotMessage();
    expect((await robot(msg)).status).toBe(200);
    const after = await counts(testDb.url);
    const again = await Promise.all([robot(msg), robot({ ...msg, text: { content: "changed" } })]);
    expect(again.map((r) => r.status)).toEqual([200, 200]);
    expect(await counts(testDb.url)).toEqual(after);
  });

  it("refuses (401) a correctly signed message naming another robotCode, storing nothing", async () => {
    const before = await counts(testDb.url);
    for (const msg of [robotMessage({ robotCode: "other-robot" }), robotMessage({ robotCode: `${APP_KEY}x` })]) {
      const res = await robot(msg);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: "unauthorized: robot_mismatch" });
      expect(await query(testDb.url, `SELECT id FROM "InboundMessage" WHERE "msgId" = $1`, [msg.msgId])).toEqual([]);
    }
    expect(await counts(testDb.url)).toEqual(before);
    // A message naming no robot is the verifying app's own.
    const { robotCode: _none, ...bare } = robotMessage();
    expect((await robot(bare)).status).toBe(200);
    const [row] = await query<{ robotCode: string }>(
      testDb.url,
      `SELECT "robotCode" FROM "InboundMessage" WHERE "msgId" = $1`,
      [bare.msgId],
    );
    expect(row?.robotCode).toBe(APP_KEY);
  });

  it("answers 503 when DINGTALK_APP_KEY is unset: the robot the secret verifies is unknown", async () => {
    const bare = buildServer({
      env: { DINGTALK_MODE: "http", DINGTALK_APP_SECRET: APP_SECRET },
      db,
      logger: createLogger("silent"),
      ingest: createIngest({ pool, robotCode: undefined }),
      now: () => NOW,
    });
    try {
      const before = await counts(testDb.url);
      const res = await bare.inject({
        method: "POST",
        url: "/dingtalk/robot",
        headers: signedHeaders(String(NOW)),
        payload: JSON.stringify(robotMessage()),
      });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({
        error: "HTTP-mode ingress is not configured: set DINGTALK_APP_KEY and DINGTALK_APP_SECRET",
      });
      expect(await counts(testDb.url)).toEqual(before);
    } finally {
      await bare.close();
    }
  });

  it("accepts a timestamp exactly one hour off, rejects one millisecond more with 401, storing nothing", async () => {
    const edge = await Promise.all([
      robot(robotMessage(), signedHeaders(String(NOW - HOUR))),
      robot(robotMessage(), signedHeaders(String(NOW + HOUR))),
    ]);
    expect(edge.map((r) => r.status)).toEqual([200, 200]);
    const before = await counts(testDb.url);
    for (const ts of [NOW - HOUR - 1, NOW + HOUR + 1]) {
      const res = await robot(robotMessage(), signedHeaders(String(ts)));
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: "unauthorized: stale_timestamp" });
    }
    expect(await counts(testDb.url)).toEqual(before);
  });

  it("rejects a bad signature, a wrong secret and missing headers with 401, storing nothing", async () => {
    const before = await counts(testDb.url);
    const good = signedHeaders(String(NOW));
    const cases: Record<string, string>[] = [
      { ...good, sign: good.sign!.replace(/^./, (c) => (c === "A" ? "B" : "A")) },
      signedHeaders(String(NOW), "not-the-secret"),
      { "content-type": "application/json" },
      { "content-type": "application/json", timestamp: String(NOW) },
      { "content-type": "application/json", sign: good.sign! },
      { ...good, timestamp: "yesterday" },
    ];
    const statuses = await Promise.all(cases.map((h) => robot(robotMessage(), h).then((r) => r.status)));
    expect(statuses).toEqual(cases.map(() => 401));
    expect(await counts(testDb.url)).toEqual(before);
  });

  it("rejects a body over 64 KiB with 413 and accepts one just under, storing only that", async () => {
    const before = await counts(testDb.url);
    const big = robotMessage({ text: { content: "x".repeat(64 * 1024) } });
    expect((await robot(big)).status).toBe(413);
    expect(await counts(testDb.url)).toEqual(before);
    const small = robotMessage({ text: { content: "" } });
    const filler = 64 * 1024 - Buffer.byteLength(JSON.stringify(small)) - 100;
    expect((await robot(robotMessage({ text: { content: "y".repeat(filler) } }))).status).toBe(200);
    expect((await counts(testDb.url)).inbound).toBe(before.inbound + 1);
  });

  it("rejects malformed JSON and non-messages with 400, storing nothing", async () => {
    const before = await counts(testDb.url);
    const { msgId: _drop, ...noMsgId } = robotMessage();
    const bodies = [
      "{not json",
      "",
      "[]",
      JSON.stringify(noMsgId),
      // A type DingTalk adds later is stored (below); a msgtype that is no type name, or a known type with a malformed body, is not.
      JSON.stringify(robotMessage({ msgtype: "no such type!" })),
      JSON.stringify(robotMessage({ msgtype: "" })),
      JSON.stringify(robotMessage({ msgtype: "picture", content: "x" })),
      JSON.stringify(robotMessage({ conversationType: "3" })),
      JSON.stringify(robotMessage({ text: "not an object" })),
      // Ids longer than 256 characters.
      ...(["conversationId", "msgId", "senderStaffId", "robotCode"] as const).map((field) =>
        JSON.stringify(robotMessage({ [field]: "x".repeat(257) })),
      ),
    ];
    for (const body of bodies) {
      const res = await robot(body);
      expect(res.status, body.slice(0, 40)).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/^malformed body/);
    }
    expect(await counts(testDb.url)).toEqual(before);
  });

  it("stores every message type DingTalk sends, and types it does not know yet", async () => {
    const before = await counts(testDb.url);
    const { text: _t, ...rest } = robotMessage();
    const types = ["picture", "richText", "audio", "video", "file", "markdown", "interactiveCard"];
    for (const msgtype of types) {
      const res = await robot({ ...rest, msgId: `${msgtype}-${Date.now()}`, msgtype, content: { downloadCode: "dc" } });
      expect(res.status, msgtype).toBe(200);
    }
    expect((await counts(testDb.url)).inbound).toBe(before.inbound + types.length);
    const stored = await query<{ msgType: string }>(
      testDb.url,
      `SELECT "msgType" FROM "InboundMessage" WHERE "msgType" IN ('markdown', 'interactiveCard') ORDER BY "msgType"`,
    );
    expect(stored.map((r) => r.msgType)).toEqual(["interactiveCard", "markdown"]);
  });
});

describe("POST /dingtalk/events", () => {
  const crypto = new DingTalkCrypto({ token: TOKEN, aesKey: AES_KEY, ownerKey: APP_KEY });
  const event = (plaintext: string, opts: { timestamp?: string; signature?: string } = {}) => {
    const encrypt = crypto.encrypt(plaintext);
    const timestamp = opts.timestamp ?? String(NOW);
    const nonce = "nonce123";
    const signature = opts.signature ?? crypto.signature(timestamp, nonce, encrypt);
    const qs = new URLSearchParams({ msg_signature: signature, timestamp, nonce });
    return post(`/dingtalk/events?${qs}`, JSON.stringify({ encrypt }), { "content-type": "application/json" });
  };

  it("answers check_url with an encrypted, signed `success`", async () => {
    const res = await event(JSON.stringify({ EventType: "check_url" }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { msg_signature: string; timeStamp: string; nonce: string; encrypt: string };
    expect(crypto.verify(body.msg_signature, body.timeStamp, body.nonce, body.encrypt)).toBe(true);
    expect(crypto.decrypt(body.encrypt)).toBe("success");
  });

  it("rejects a bad msg_signature or a stale timestamp with 401", async () => {
    const before = await counts(testDb.url);
    expect((await event(JSON.stringify({ EventType: "check_url" }), { signature: "0".repeat(40) })).status).toBe(401);
    const msg = JSON.stringify(robotMessage());
    expect((await event(msg, { signature: "f".repeat(40) })).status).toBe(401);
    expect((await event(msg, { timestamp: String(NOW - HOUR - 1) })).status).toBe(401);
    expect(await counts(testDb.url)).toEqual(before);
  });

  it("stores a robot message delivered as an event, once, and acknowledges other events", async () => {
    const before = await counts(testDb.url);
    const msg = robotMessage();
    for (let i = 0; i < 2; i++) expect((await event(JSON.stringify(msg))).status).toBe(200);
    expect(await counts(testDb.url)).toEqual({ inbound: before.inbound + 1, jobs: before.jobs + 1 });
    const [row] = await query<{ channel: string }>(
      testDb.url,
      `SELECT channel FROM "InboundMessage" WHERE "msgId" = $1`,
      [msg.msgId],
    );
    expect(row?.channel).toBe("EVENT");
    expect((await event(JSON.stringify({ EventType: "user_add_org", UserId: ["u1"] }))).status).toBe(200);
    expect(await counts(testDb.url)).toEqual({ inbound: before.inbound + 1, jobs: before.jobs + 1 });
  });

  it("refuses (401) a robot message event naming another robotCode, storing nothing", async () => {
    const before = await counts(testDb.url);
    const res = await event(JSON.stringify(robotMessage({ robotCode: "other-robot" })));
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: "unauthorized: robot_mismatch" });
    expect(await counts(testDb.url)).toEqual(before);
  });

  it("answers 400 for a body that is not an envelope, 413 when oversized", async () => {
    const qs = new URLSearchParams({ msg_signature: "x", timestamp: String(NOW), nonce: "n" });
    expect((await post(`/dingtalk/events?${qs}`, "{}", { "content-type": "application/json" })).status).toBe(400);
    const huge = JSON.stringify({ encrypt: "a".repeat(70_000) });
    expect((await post(`/dingtalk/events?${qs}`, huge, { "content-type": "application/json" })).status).toBe(413);
  });

  it("answers 503 naming the variables when event crypto is not configured", async () => {
    const bare = buildServer({
      env: { DINGTALK_MODE: "http", DINGTALK_APP_SECRET: APP_SECRET },
      db,
      logger: createLogger("silent"),
      ingest: createIngest({ pool, robotCode: APP_KEY }),
    });
    try {
      const res = await bare.inject({
        method: "POST",
        url: "/dingtalk/events?msg_signature=a&timestamp=1&nonce=n",
        payload: { encrypt: "x" },
      });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({
        error: "event subscription is not configured: set DINGTALK_TOKEN, DINGTALK_AES_KEY, DINGTALK_APP_KEY",
      });
    } finally {
      await bare.close();
    }
  });
});

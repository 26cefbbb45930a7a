/**
 * Stream mode against the fake DingTalk's gateway: a pushed message is stored, ACKed only
 * after it is stored, and answered; when the database is down it is not ACKed at all.
 */
import { createDb, type Db } from "@clawgate/db";
import { NO_MODEL_REPLY } from "./agent/index.ts";
import { startFakeDingTalk, type FakeDingTalk } from "@clawgate/devstack/fake-dingtalk";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APP_KEY, APP_SECRET } from "../test/dingtalk.ts";
import { query, UNREACHABLE_DB, waitFor } from "../test/helpers.ts";
import { enableConversations } from "../test/policy.ts";
import { createPgPool } from "./db-pool.ts";
import { createIngest, type Ingest } from "./ingress/ingest.ts";
import { startStreamIngress, type StreamIngress } from "./ingress/stream.ts";
import { createLogger } from "./logger.ts";
import { createMetrics } from "./metrics.ts";
import { startPolicyRuntime, type PolicyRuntime } from "./policy/runtime.ts";
import type { Queue } from "./worker/queue.ts";
import { queueEnv, startTestQueue } from "../test/queue.ts";

const logger = createLogger("silent");
const metrics = createMetrics();

describe("Stream mode", () => {
  let testDb: TestDatabase;
  let db: Db;
  let pool: pg.Pool;
  let fake: FakeDingTalk;
  let queue: Queue;
  let stream: StreamIngress;
  let policy: PolicyRuntime;
  const storedAt = new Map<string, number>();
  // Messages whose connection is cut right after their row is stored, before the ACK goes out.
  const cutAfterStore = new Set<string>();
  let ingest: Ingest;

  beforeAll(async () => {
    testDb = await createTestDatabase({ prefix: "clawgate_bot_stream" });
    db = createDb(testDb.url);
    policy = startPolicyRuntime({ db, databaseUrl: testDb.url, logger });
    await policy.loaded;
    await enableConversations(db, policy, "cid-stream", "cid-stream-dup", "cid-stream-cut");
    fake = await startFakeDingTalk({ port: 0, appKey: APP_KEY, appSecret: APP_SECRET, pingIntervalMs: 0 });
    queue = await startTestQueue({ env: queueEnv(testDb.url, fake.url), db, logger, metrics, policy });
    pool = createPgPool(testDb.url, { applicationName: "test-stream" });
    const real = createIngest({ pool, robotCode: APP_KEY });
    // Records when each message's row was committed, to compare with the ACK's arrival.
    ingest = async (input) => {
      const result = await real(input);
      storedAt.set(input.message.msgId, Date.now());
      if (cutAfterStore.delete(input.message.msgId)) fake.dropStreamConnections();
      return result;
    };
    stream = startStreamIngress({
      clientId: APP_KEY,
      clientSecret: APP_SECRET,
      apiBase: fake.url,
      ingest,
      logger,
      metrics,
    });
    await waitFor(async () => (stream.connected() ? true : undefined), 10_000, "stream connected");
  });
  afterAll(async () => {
    await stream?.stop();
    await queue?.stop();
    await policy?.stop();
    await fake?.close();
    await pool?.end();
    await db?.$disconnect();
    await testDb?.drop();
  });

  it("stores the pushed message, ACKs it after the row is committed, and replies", async () => {
    const { msgId, status } = await fake.deliver({
      conversationId: "cid-stream",
      text: "over the stream",
      via: "stream",
    });
    expect(status).toBe(0);
    const ack = await fake.waitForAck(msgId, 5_000);
    expect(ack.code).toBe(200);
    expect(storedAt.get(msgId)).toBeDefined();
    expect(ack.at).toBeGreaterThanOrEqual(storedAt.get(msgId)!);
    const rows = await query<{ channel: string }>(
      testDb.url,
      `SELECT channel FROM "InboundMessage" WHERE "msgId" = $1`,
      [msgId],
    );
    expect(rows).toEqual([{ channel: "STREAM" }]);
    const [reply] = await fake.waitForReplies("cid-stream", 1, 10_000);
    expect(reply?.text).toBe(NO_MODEL_REPLY);
  });

  it("stores and answers once a message whose connection was cut after it was stored, before its ACK", async () => {
    const msgId = `stream-cut-${Date.now()}`;
    cutAfterStore.add(msgId);
    await fake.deliver({ conversationId: "cid-stream-cut", text: "cut", via: "stream", msgId });
    // The ACK was lost with the connection: the client reconnects and DingTalk redelivers.
    await waitFor(
      async () => (fake.acks.some((a) => a.msgId === msgId && a.code === 200) ? true : undefined),
      20_000,
      "the redelivered message ACKed on the new connection",
    );
    expect(storedAt.has(msgId)).toBe(true);
    await fake.waitForReplies("cid-stream-cut", 1, 10_000);
    await new Promise((r) => setTimeout(r, 800));
    expect(fake.sent.filter((m) => m.conversationId === "cid-stream-cut")).toHaveLength(1);
    expect(await query(testDb.url, `SELECT id FROM "InboundMessage" WHERE "msgId" = $1`, [msgId])).toHaveLength(1);
    expect(stream.connected()).toBe(true);
  });

  it("ACKs a redelivered (duplicate) message without storing or answering it twice", async () => {
    const msgId = `stream-dup-${Date.now()}`;
    await fake.deliver({ conversationId: "cid-stream-dup", text: "a", via: "stream", msgId });
    await fake.deliver({ conversationId: "cid-stream-dup", text: "a", via: "stream", msgId });
    await waitFor(
      async () => (fake.acks.filter((a) => a.msgId === msgId && a.code === 200).length === 2 ? true : undefined),
      5_000,
      "two ACKs",
    );
    await fake.waitForReplies("cid-stream-dup", 1, 10_000);
    await new Promise((r) => setTimeout(r, 800));
    expect(fake.sent.filter((m) => m.conversationId === "cid-stream-dup")).toHaveLength(1);
    const rows = await query(testDb.url, `SELECT id FROM "InboundMessage" WHERE "msgId" = $1`, [msgId]);
    expect(rows).toHaveLength(1);
  });
  it("ACKs but never stores a message naming another robot than ours", async () => {
    // A gateway that pushes another robot's messages over the connection our AppKey opened.
    const other = await startFakeDingTalk({
      port: 0,
      appKey: APP_KEY,
      appSecret: APP_SECRET,
      robotCode: "other-robot",
      pingIntervalMs: 0,
    });
    const otherStream = startStreamIngress({
      clientId: APP_KEY,
      clientSecret: APP_SECRET,
      apiBase: other.url,
      ingest,
      logger,
      metrics,
    });
    try {
      await waitFor(async () => (otherStream.connected() ? true : undefined), 10_000, "stream connected");
      const { msgId } = await other.deliver({ conversationId: "cid-stream", text: "not for us", via: "stream" });
      await waitFor(async () => (other.acks.some((a) => a.msgId === msgId) ? true : undefined), 5_000, "ACK");
      expect(await query(testDb.url, `SELECT id FROM "InboundMessage" WHERE "msgId" = $1`, [msgId])).toEqual([]);
      expect(other.sent).toEqual([]);
    } finally {
      await otherStream.stop();
      await other.close();
    }
  });
});

describe("Stream mode with the database down", () => {
  it("does not ACK what it could not store", async () => {
    const fake = await startFakeDingTalk({
      port: 0,
      appKey: APP_KEY,
      appSecret: APP_SECRET,
      pingIntervalMs: 0,
      streamAckTimeoutMs: 300,
    });
    const pool = createPgPool(UNREACHABLE_DB, { applicationName: "test-stream-down" });
    const stream = startStreamIngress({
      clientId: APP_KEY,
      clientSecret: APP_SECRET,
      apiBase: fake.url,
      ingest: createIngest({ pool, robotCode: APP_KEY }),
      logger,
      metrics,
    });
    try {
      await waitFor(async () => (stream.connected() ? true : undefined), 10_000, "stream connected");
      const { msgId } = await fake.deliver({ conversationId: "cid-down", text: "lost?", via: "stream" });
      // The fake redelivers an unACKed frame once after 300 ms; neither delivery is ACKed.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(fake.acks.filter((a) => a.msgId === msgId)).toEqual([]);
      expect(fake.sent).toEqual([]);
    } finally {
      await stream.stop();
      await fake.close();
      await pool.end();
    }
  });
});

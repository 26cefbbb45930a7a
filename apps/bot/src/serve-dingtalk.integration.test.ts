/**
 * The real `clawgate serve` processes: two replicas on one database answer a message delivered
 * to both exactly once; with its database stopped a replica answers 503 fast and acknowledges
 * nothing, and stores again once the database is back.
 */
import { randomUUID } from "node:crypto";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createDb } from "@clawgate/db";
import { startEmbeddedPostgres, type EmbeddedPg } from "@clawgate/devstack/embedded-pg";
import { startFakeDingTalk, type FakeDingTalk } from "@clawgate/devstack/fake-dingtalk";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { APP_KEY, APP_SECRET, robotMessage, signedHeaders } from "../test/dingtalk.ts";
import { freePort, killChild, query, startBlackhole, startServe, waitFor, type CliProcess } from "../test/helpers.ts";
import { setConversation } from "../test/policy.ts";

/** Enables the conversations before the replicas start, so their first snapshot has them. */
async function enable(url: string, ...conversationIds: string[]): Promise<void> {
  const db = createDb(url);
  try {
    for (const id of conversationIds) await setConversation(db, id);
  } finally {
    await db.$disconnect();
  }
}

const running: CliProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => killChild(c)));
});

const get = (url: string) => fetch(url, { signal: AbortSignal.timeout(5_000) });

/** `clawgate serve` on a free port, once /ready is 200 (database, migrations, queue). */
const serve = (vars: Record<string, string>) =>
  startServe({ LOG_LEVEL: "warn", ...vars }, { track: (cli) => running.push(cli) });

const readBody = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });

/** Forwards each callback to every target at once (DingTalk redelivering to another replica). */
async function fanOut(targets: () => string[]): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const headers = {
        timestamp: String(req.headers.timestamp),
        sign: String(req.headers.sign),
        "content-type": "application/json",
      };
      const answers = await Promise.all(
        targets().map((t) => fetch(`${t}/dingtalk/robot`, { method: "POST", headers, body })),
      );
      const first = answers[0]!;
      res.writeHead(first.status, { "content-type": "application/json" }).end(await first.text());
    })().catch(() => res.writeHead(502).end());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe("two replicas on one database", () => {
  let testDb: TestDatabase;
  let fake: FakeDingTalk;
  let proxy: { url: string; server: Server };
  afterAll(async () => {
    await new Promise((r) => (proxy ? proxy.server.close(r) : r(null)));
    await fake?.close();
    await testDb?.drop();
  });

  it("reply exactly once to a message delivered to both at the same time", async () => {
    testDb = await createTestDatabase({ prefix: "clawgate_bot_replicas" });
    let replicas: string[] = [];
    proxy = await fanOut(() => replicas);
    fake = await startFakeDingTalk({
      port: 0,
      appKey: APP_KEY,
      appSecret: APP_SECRET,
      callbackUrl: `${proxy.url}/dingtalk/robot`,
    });
    const vars = {
      DATABASE_URL: testDb.url,
      DINGTALK_APP_KEY: APP_KEY,
      DINGTALK_APP_SECRET: APP_SECRET,
      DINGTALK_API_BASE: fake.url,
      DINGTALK_WEBHOOK_HOSTS: new URL(fake.url).host,
      // Both replicas define the default model at start: exactly one must result.
      LOCAL_MODEL_BASE_URL: "http://127.0.0.1:9/v1",
    };
    const conversations = Array.from({ length: 6 }, (_, i) => `cid-replica-${i}`);
    await enable(testDb.url, ...conversations);
    const [a, b] = await Promise.all([serve(vars), serve(vars)]);
    replicas = [a.base, b.base];

    const results = await Promise.all(
      conversations.map((conversationId) => fake.deliver({ conversationId, text: "hello both" })),
    );
    expect(results.map((r) => r.status)).toEqual(conversations.map(() => 200));
    for (const cid of conversations) await fake.waitForReplies(cid, 1, 15_000);
    await new Promise((r) => setTimeout(r, 1_500));
    for (const cid of conversations)
      expect(
        fake.sent.filter((m) => m.conversationId === cid),
        cid,
      ).toHaveLength(1);
    const rows = await query<{ n: number }>(
      testDb.url,
      `SELECT count(*)::int AS n FROM "InboundMessage" WHERE status = 'REPLIED'`,
    );
    expect(rows).toEqual([{ n: conversations.length }]);
    expect(await query(testDb.url, `SELECT name, "baseUrl" FROM "ModelEndpoint"`)).toEqual([
      { name: "local_chat", baseUrl: "http://127.0.0.1:9/v1" },
    ]);
    // Both heartbeats report the latest revision (the model's), beaten on reload, not on the 10 s tick.
    const [latest] = await query<{ id: number }>(testDb.url, `SELECT max(id)::int AS id FROM "ConfigRevision"`);
    await waitFor(
      async () => {
        const applied = await query<{ appliedRevision: number }>(
          testDb.url,
          `SELECT "appliedRevision" FROM "RuntimeInstance"`,
        );
        return applied.length === 2 && applied.every((r) => r.appliedRevision === latest!.id) ? true : undefined;
      },
      5_000,
      "both replicas report the latest revision",
    );
  });
});

describe("with its database stopped", () => {
  let pgDir: string | undefined;
  let cluster: EmbeddedPg | undefined;
  afterAll(async () => {
    await cluster?.stop().catch(() => {});
    if (pgDir) await rm(pgDir, { recursive: true, force: true });
  });

  it("answers 503 within 2 s and stores nothing, survives, then stores and replies once it is back", async () => {
    pgDir = await mkdtemp(path.join(tmpdir(), "clawgate-pg-"));
    await chmod(pgDir, 0o755); // as root, the cluster runs as `postgres`, which must enter it
    const port = await freePort();
    const dataDir = path.join(pgDir, "data");
    cluster = await startEmbeddedPostgres({ dataDir, port });
    const testDb = await createTestDatabase({ serverUrl: cluster.serverUrl, prefix: "clawgate_bot_down" });
    // The first reply goes to a webhook that never answers: its job holds a database connection
    // (the reply's row lock) when the database goes away. That must not crash the runtime.
    const stall = await startBlackhole();
    const stallHost = new URL(stall.url.replace("postgresql:", "http:")).host;
    const fake = await startFakeDingTalk({ port: 0, appKey: APP_KEY, appSecret: APP_SECRET });
    await enable(testDb.url, "cid-after-outage");
    try {
      const { cli, base } = await serve({
        DATABASE_URL: testDb.url,
        DINGTALK_APP_KEY: APP_KEY,
        DINGTALK_APP_SECRET: APP_SECRET,
        DINGTALK_API_BASE: fake.url,
        DINGTALK_WEBHOOK_HOSTS: `${new URL(fake.url).host},${stallHost}`,
      });
      const post = (msg: Record<string, unknown>) =>
        fetch(`${base}/dingtalk/robot`, {
          method: "POST",
          headers: signedHeaders(),
          body: JSON.stringify(msg),
          signal: AbortSignal.timeout(10_000),
        });

      const before = robotMessage({ sessionWebhook: `http://${stallHost}/robot/sendBySession?session=stall` });
      expect((await post(before)).status).toBe(200);
      await waitFor(
        async () =>
          (await query<{ status: string }>(testDb.url, `SELECT status FROM "InboundMessage"`))[0]?.status ===
          "PROCESSING"
            ? true
            : undefined,
        10_000,
        "the first reply in flight",
      );

      await cluster.stop();
      cluster = undefined;
      const refused = robotMessage({ msgId: `refused-${randomUUID()}` });
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        const res = await post(refused);
        expect(res.status, `attempt ${i}`).toBe(503);
        expect(Date.now() - started).toBeLessThan(2_000);
      }
      expect((await get(`${base}/ready`)).status).toBe(503);
      expect(cli.child.exitCode, "the runtime survived the outage").toBeNull();

      cluster = await startEmbeddedPostgres({ dataDir, port });
      await waitFor(
        async () => ((await get(`${base}/ready`)).status === 200 ? true : undefined),
        20_000,
        "ready again",
      );
      // A message sent now is stored, and the queue (restarted after its worker died) answers it:
      // its webhook host is not allowed, so the reply goes through the fake's OpenAPI.
      const afterMsg = robotMessage({ conversationId: "cid-after-outage" });
      await waitFor(
        async () => ((await post(afterMsg)).status === 200 ? true : undefined),
        20_000,
        "200 after restart",
      );
      const stored = await query<{ msgId: string }>(
        testDb.url,
        `SELECT "msgId" FROM "InboundMessage" ORDER BY "receivedAt"`,
      );
      expect(stored.map((r) => r.msgId)).toEqual([before.msgId, afterMsg.msgId]);
      const [reply] = await fake.waitForReplies("cid-after-outage", 1, 30_000);
      expect(reply?.via).toBe("groupMessages");
    } finally {
      await stall.close();
      await fake.close();
    }
  });
});

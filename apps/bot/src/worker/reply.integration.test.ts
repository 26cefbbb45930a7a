/**
 * The send's claim (PENDING -> SENDING -> SENT) against real PostgreSQL and the fake DingTalk:
 * the windows that sent duplicate replies in bench/faults (a database stall or a killed replica
 * after DingTalk accepted and before SENT was written) send once now, and a claim whose sender
 * vanished is marked UNCONFIRMED and never resent.
 */
import { DingTalkApiError, textReply } from "@clawgate/dingtalk";
import { startFakeDingTalk, type FakeDingTalk } from "@clawgate/devstack/fake-dingtalk";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APP_KEY, APP_SECRET } from "../../test/dingtalk.ts";
import { query } from "../../test/helpers.ts";
import { queueEnv } from "../../test/queue.ts";
import { createPgPool } from "../db-pool.ts";
import { realSenders } from "./queue.ts";
import { SENDING_STALE_MS, sendReply, ThrottledError, type SendReplyArgs } from "./reply.ts";
import { createThrottle, RATE_LIMIT_DDL } from "./throttle.ts";

let testDb: TestDatabase;
let pool: pg.Pool;
let fake: FakeDingTalk;

beforeAll(async () => {
  testDb = await createTestDatabase({ prefix: "clawgate_bot_reply" });
  pool = createPgPool(testDb.url, { applicationName: "test-reply", statementTimeoutMs: 30_000 });
  await pool.query(RATE_LIMIT_DDL);
  fake = await startFakeDingTalk({ port: 0, appKey: APP_KEY, appSecret: APP_SECRET });
});
afterAll(async () => {
  await fake?.close();
  await pool?.end();
  await testDb?.drop();
});

const args = (key: string, conversationId: string, over: Partial<SendReplyArgs> = {}): SendReplyArgs => ({
  pool,
  keys: null,
  throttle: createThrottle(pool),
  senders: realSenders(queueEnv(testDb.url, fake.url)),
  idempotencyKey: key,
  inboundId: null,
  robotCode: APP_KEY,
  conversationId,
  traceId: "trace-reply",
  targets: [{ channel: "OPENAPI_GROUP", openConversationId: conversationId }],
  message: textReply("the answer"),
  ...over,
});
const row = async (key: string) =>
  (
    await query<{ status: string; attempts: number; lastError: string | null }>(
      testDb.url,
      `SELECT status, attempts, "lastError" FROM "OutboundMessage" WHERE "idempotencyKey" = $1`,
      [key],
    )
  )[0];
const sentTo = (conversationId: string) => fake.sent.filter((m) => m.conversationId === conversationId);

describe("sendReply's claim", () => {
  it("keeps writing SENT while the database refuses it after DingTalk accepted, and a rerun sends nothing", async () => {
    // The database goes away right after DingTalk accepted: the first SENT writes fail.
    let refused = 0;
    const flaky = new Proxy(pool, {
      get(target, prop, receiver) {
        if (prop !== "query") return Reflect.get(target, prop, receiver);
        return (text: string, values?: unknown[]) => {
          if (typeof text === "string" && text.includes(`"status" = 'SENT'`) && refused < 3) {
            refused += 1;
            return Promise.reject(new Error("Connection terminated unexpectedly"));
          }
          return target.query(text, values);
        };
      },
    }) as pg.Pool;
    const first = await sendReply(args("k-stall", "cid-stall", { pool: flaky }));
    expect(first.outcome).toBe("sent");
    expect(refused).toBe(3);
    expect(await row("k-stall")).toMatchObject({ status: "SENT", attempts: 1 });
    expect((await sendReply(args("k-stall", "cid-stall"))).outcome).toBe("already_sent");
    expect(sentTo("cid-stall")).toHaveLength(1);
  });

  it("leaves a fresh claim of another sender alone (the job looks again later) and never resends a stale one", async () => {
    await query(
      testDb.url,
      `INSERT INTO "OutboundMessage" ("id", "idempotencyKey", "conversationId", "channel", "msgType", "payload", "traceId", "status", "attempts", "sendingAt")
       VALUES ('o-vanished', 'k-vanished', 'cid-vanished', 'OPENAPI_GROUP', 'text', '{}', 't', 'SENDING', 1, now() - interval '5 seconds')`,
    );
    // A sender that claimed 5 s ago may still be waiting for DingTalk: not judged yet.
    const fresh = await sendReply(args("k-vanished", "cid-vanished")).catch((e: unknown) => e);
    expect(fresh).toBeInstanceOf(ThrottledError);
    expect((fresh as ThrottledError).scope).toBe("sending");
    expect((fresh as ThrottledError).retryInMs).toBeLessThanOrEqual(5_000);
    expect(await row("k-vanished")).toMatchObject({ status: "SENDING" });

    // Its replica died in the send (the claim is older than any send can take): not resent.
    await query(
      testDb.url,
      `UPDATE "OutboundMessage" SET "sendingAt" = now() - make_interval(secs => $1::float8) WHERE "idempotencyKey" = 'k-vanished'`,
      [SENDING_STALE_MS / 1000 + 1],
    );
    expect((await sendReply(args("k-vanished", "cid-vanished"))).outcome).toBe("unconfirmed");
    expect((await sendReply(args("k-vanished", "cid-vanished"))).outcome).toBe("unconfirmed");
    expect(await row("k-vanished")).toMatchObject({ status: "UNCONFIRMED", attempts: 1 });
    expect(sentTo("cid-vanished")).toHaveLength(0);
  });

  it("puts a send DingTalk did not accept back to PENDING, so the retry sends it once", async () => {
    fake.setThrottle(0);
    try {
      await expect(sendReply(args("k-refused", "cid-refused"))).rejects.toBeInstanceOf(ThrottledError);
    } finally {
      fake.setThrottle(undefined);
    }
    expect(await row("k-refused")).toMatchObject({ status: "PENDING", attempts: 1 });
    expect((await sendReply(args("k-refused", "cid-refused"))).outcome).toBe("sent");
    expect(await row("k-refused")).toMatchObject({ status: "SENT", attempts: 2 });
    expect(sentTo("cid-refused")).toHaveLength(1);
  });

  it("sends once when concurrent senders race for the same key", async () => {
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () =>
        sendReply(args("k-race", "cid-race")).then(
          (r) => r.outcome,
          (e: unknown) => (e instanceof ThrottledError ? e.scope : "error"),
        ),
      ),
    );
    expect(outcomes.filter((o) => o === "sent")).toHaveLength(1);
    expect(outcomes.every((o) => ["sent", "sending", "already_sent"].includes(o))).toBe(true);
    expect(sentTo("cid-race")).toHaveLength(1);
  });

  it("does not resend a send whose outcome is unknown (timed out), and retries one whose connection was never made", async () => {
    const real = realSenders(queueEnv(testDb.url, fake.url));
    const failing = (error: Error) => ({
      ...real,
      openApi: {
        ...real.openApi!,
        sendToGroup: async (a: Parameters<NonNullable<typeof real.openApi>["sendToGroup"]>[0]) => {
          await real.openApi!.sendToGroup(a); // DingTalk got it; its answer is what goes missing
          throw error;
        },
      },
    });
    const timeout = new DingTalkApiError("POST /v1.0/robot/groupMessages/send timed out", {
      status: 0,
      code: "timeout",
    });
    expect((await sendReply(args("k-timeout", "cid-timeout", { senders: failing(timeout) }))).outcome).toBe(
      "unconfirmed",
    );
    expect((await sendReply(args("k-timeout", "cid-timeout"))).outcome).toBe("unconfirmed");
    expect(await row("k-timeout")).toMatchObject({ status: "UNCONFIRMED", attempts: 1 });
    expect(sentTo("cid-timeout")).toHaveLength(1);

    const refused = new DingTalkApiError("POST /v1.0/robot/groupMessages/send failed: fetch failed", {
      status: 0,
      code: "network",
      cause: Object.assign(new TypeError("fetch failed"), {
        cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }),
      }),
    });
    const never = {
      ...real,
      openApi: { ...real.openApi!, sendToGroup: () => Promise.reject(refused) },
    };
    await expect(sendReply(args("k-refused-conn", "cid-refused-conn", { senders: never }))).rejects.toThrow();
    expect(await row("k-refused-conn")).toMatchObject({ status: "PENDING", attempts: 1 });
    expect((await sendReply(args("k-refused-conn", "cid-refused-conn"))).outcome).toBe("sent");
    expect(sentTo("cid-refused-conn")).toHaveLength(1);
  });
});

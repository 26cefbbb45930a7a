/**
 * Group commit in the ingest: concurrent messages share statements, yet each caller learns
 * exactly whether its own row was stored, every stored row has exactly one job, duplicates
 * (also within one batch) are skipped, and one row the database rejects fails only itself.
 */
import { robotMessageSchema } from "@clawgate/dingtalk";
import { describe, expect, it } from "vitest";
import { APP_KEY, robotMessage as rawMessage } from "../../test/dingtalk.ts";
import { collectEmptyQueues } from "../worker/queue-gc.ts";
import { createIngest } from "./ingest.ts";
import { useBotHarness } from "../../test/harness.ts";

/** A message as the routes hand it to the ingest: parsed by the real schema. */
const robotMessage = (overrides: Record<string, unknown>) => robotMessageSchema.parse(rawMessage(overrides));

const h = useBotHarness({ name: "batch", pool: true });

async function count(sql: string): Promise<number> {
  return Number((await h.pool.query<{ n: string }>(sql)).rows[0]?.n);
}

describe("ingest group commit", () => {
  it("batches concurrent messages and reports each caller's own outcome", async () => {
    // maxInFlight 1: while the first statement runs, the rest queue up and go in batches (no
    // deadline: 240 at once on a busy machine may take longer than a callback's).
    const ingest = createIngest({ pool: h.pool, robotCode: APP_KEY, maxInFlight: 1, maxBatch: 50, deadlineMs: 60_000 });
    const ids = Array.from({ length: 120 }, (_, i) => `batch-${i}`);
    // Each id twice, in the same burst: the second copy usually lands in the same batch.
    const results = await Promise.all(
      [...ids, ...ids].map((msgId, i) =>
        ingest({ channel: "HTTP", message: robotMessage({ msgId }), traceId: `t${i}` }),
      ),
    );
    expect(results.filter((r) => r.status === "stored")).toHaveLength(120);
    expect(results.filter((r) => r.status === "duplicate")).toHaveLength(120);
    const storedIds = results.flatMap((r) => (r.status === "stored" ? [r.inboundId] : []));
    expect(new Set(storedIds).size).toBe(120);

    expect(await count(`SELECT count(*) AS n FROM "InboundMessage" WHERE "msgId" LIKE 'batch-%'`)).toBe(120);
    // Exactly one job per stored row, pointing at it.
    const jobs = await h.pool.query<{ inboundId: string }>(
      `SELECT j.payload->>'inboundId' AS "inboundId" FROM graphile_worker._private_jobs j
         JOIN graphile_worker._private_tasks t ON t.id = j.task_id WHERE t.identifier = 'inbound.handle'`,
    );
    expect(jobs.rows.map((j) => j.inboundId).sort()).toEqual([...storedIds].sort());
  });

  it("a row the database rejects for its data is dead-lettered and acknowledged, its neighbours stored", async () => {
    const ingest = createIngest({ pool: h.pool, robotCode: APP_KEY, maxInFlight: 1 });
    const before = await count(`SELECT count(*) AS n FROM graphile_worker._private_jobs`);
    // A data error the storable rule cannot fix (a constraint of this test's database).
    await h.pool.query(`ALTER TABLE "InboundMessage" ADD CONSTRAINT "no_poison" CHECK ("msgId" <> 'poison-1')`);
    try {
      const poisoned = robotMessage({ msgId: "poison-1" });
      const results = await Promise.all([
        ingest({ channel: "HTTP", message: robotMessage({ msgId: "neighbour-0" }), traceId: "a" }),
        ingest({ channel: "HTTP", message: robotMessage({ msgId: "neighbour-1" }), traceId: "b" }),
        ingest({ channel: "HTTP", message: poisoned, traceId: "c" }),
        ingest({ channel: "HTTP", message: robotMessage({ msgId: "neighbour-2" }), traceId: "d" }),
      ]);
      expect(results.map((r) => r.status)).toEqual(["stored", "stored", "dead_lettered", "stored"]);
      expect(
        await count(
          `SELECT count(*) AS n FROM "InboundMessage" WHERE "msgId" IN ('neighbour-0','neighbour-1','neighbour-2','poison-1')`,
        ),
      ).toBe(3);
      expect(await count(`SELECT count(*) AS n FROM graphile_worker._private_jobs`)).toBe(before + 3);
      const { rows } = await h.pool.query(
        `SELECT "source", "status", "errorCode", "reason", "traceId", "msgId", "channel", "payload"->>'msgId' AS "payloadMsgId" FROM "DeadLetter"`,
      );
      expect(rows).toEqual([
        {
          source: "INGRESS",
          status: "OPEN",
          errorCode: "23514",
          reason: expect.stringContaining("no_poison"),
          traceId: "c",
          msgId: "poison-1",
          channel: "HTTP",
          payloadMsgId: "poison-1",
        },
      ]);
      // Delivered again, it is dead-lettered again, never a 5xx.
      expect((await ingest({ channel: "HTTP", message: poisoned, traceId: "e" })).status).toBe("dead_lettered");
    } finally {
      await h.pool.query(`ALTER TABLE "InboundMessage" DROP CONSTRAINT "no_poison"`);
    }
  });

  it("stores text PostgreSQL cannot hold as it was, NUL removed and lone surrogates replaced", async () => {
    const ingest = createIngest({ pool: h.pool, robotCode: APP_KEY });
    const result = await ingest({
      channel: "HTTP",
      message: robotMessage({ msgId: "nul-1", text: { content: "bad \u0000 byte \ud800 👩‍💻" } }),
      traceId: "t",
    });
    expect(result.status).toBe("stored");
    const { rows } = await h.pool.query<{ content: string }>(
      `SELECT "payload"->'text'->>'content' AS "content" FROM "InboundMessage" WHERE "msgId" = 'nul-1'`,
    );
    expect(rows[0]?.content).toBe("bad  byte \ufffd 👩‍💻");
    expect(await count(`SELECT "alteredChars" AS n FROM "InboundMessage" WHERE "msgId" = 'nul-1'`)).toBe(2);
  });

  it("puts each conversation's jobs in its own queue, in arrival order", async () => {
    const ingest = createIngest({ pool: h.pool, robotCode: APP_KEY, maxInFlight: 1, maxBatch: 50, deadlineMs: 60_000 });
    const sent = Array.from({ length: 60 }, (_, i) => ({ msgId: `order-${i}`, conversationId: `cid-order-${i % 3}` }));
    const results = await Promise.all(
      sent.map((m, i) => ingest({ channel: "HTTP", message: robotMessage(m), traceId: `o${i}` })),
    );
    const inboundIds = results.map((r) => (r.status === "stored" ? r.inboundId : ""));
    // The order a worker takes them in: priority, then run_at (graphile-worker's getJob).
    const { rows } = await h.pool.query<{ queue: string; inboundId: string }>(
      `SELECT q.queue_name AS queue, j.payload->>'inboundId' AS "inboundId"
         FROM graphile_worker._private_jobs j JOIN graphile_worker._private_job_queues q ON q.id = j.job_queue_id
        WHERE q.queue_name LIKE 'conv:cid-order-%' ORDER BY j.priority, j.run_at`,
    );
    for (const c of [0, 1, 2]) {
      const expected = inboundIds.filter((_, i) => i % 3 === c);
      expect(rows.filter((r) => r.queue === `conv:cid-order-${c}`).map((r) => r.inboundId)).toEqual(expected);
    }
  });

  it("the queue GC deletes empty conversation queues only, and an ingest racing it keeps its queue", async () => {
    const ingest = createIngest({ pool: h.pool, robotCode: APP_KEY });
    await h.pool.query(`INSERT INTO graphile_worker._private_job_queues (queue_name) VALUES ('conv:cid-gone')`);
    await ingest({
      channel: "HTTP",
      message: robotMessage({ msgId: "gc-kept", conversationId: "cid-kept" }),
      traceId: "g",
    });
    // The GC and ingests into fresh conversations at the same time, many times over.
    for (let round = 0; round < 20; round++) {
      await Promise.all([
        collectEmptyQueues(h.pool),
        ...[0, 1, 2].map((i) =>
          ingest({
            channel: "HTTP",
            message: robotMessage({ msgId: `gc-race-${round}-${i}`, conversationId: `cid-race-${round}-${i}` }),
            traceId: "r",
          }),
        ),
      ]);
    }
    await collectEmptyQueues(h.pool);
    const queues = async (like: string) =>
      (
        await h.pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM graphile_worker._private_job_queues WHERE queue_name LIKE $1`,
          [like],
        )
      ).rows[0]?.n;
    expect(await queues("conv:cid-gone")).toBe(0);
    expect(await queues("conv:cid-kept")).toBe(1);
    expect(await queues("conv:cid-race-%")).toBe(60);
    // No job points at a queue that is gone (it would never run).
    expect(
      await count(`SELECT count(*) AS n FROM graphile_worker._private_jobs j WHERE j.job_queue_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM graphile_worker._private_job_queues q WHERE q.id = j.job_queue_id)`),
    ).toBe(0);
  });
});

/**
 * Job benchmark: the whole way of a chat message, from DingTalk's signed callback to the reply
 * DingTalk receives, through a real `clawgate serve` (HTTP mode) on a real database, against the
 * demo model at a fixed latency: what a user waits for, minus the model.
 *
 *   npm run bench:job                  (DATABASE_URL optional: embedded PostgreSQL otherwise)
 *   BENCH_CONVERSATIONS=200 BENCH_PERIOD_S=15 BENCH_ROUNDS=4 BENCH_LATENCY_MS=1000 BENCH_WORKERS=32 npm run bench:job
 *
 * In this process: the fake DingTalk (signed callbacks to the runtime, the sessionWebhook the
 * replies go to) and the driver: BENCH_CONVERSATIONS enabled group conversations, each sending
 * one message every BENCH_PERIOD_S seconds, their starts spread evenly over one period (a steady
 * message rate of conversations / period, kept under the robot's 20 sends a second so DingTalk's
 * own limit, which the runtime honours, is not what is measured). Separate processes: the
 * runtime and the demo model.
 *
 * Per message: time from the callback's request to the reply arriving at the fake DingTalk.
 * Baseline, same run and pacing, from this process: bare openai SDK calls with the same request
 * body to the same model. "Runtime's share" = message -> reply minus the bare call, per
 * percentile (p50 - p50, p99 - p99: a rough split, since percentiles do not subtract exactly).
 */
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { offeredTools } from "../../apps/bot/src/agent/tools.ts";
import { loadPolicySnapshot, recordConfigChange, seedDemo } from "../../packages/core/src/index.ts";
import { createDb } from "../../packages/db/src/index.ts";
import { startFakeDingTalk } from "@clawgate/devstack/fake-dingtalk";
import { startFakeInternalApi } from "@clawgate/devstack/fake-internal-api";
import { REPO_ROOT } from "@clawgate/devstack/paths";
import { pct, sorted, startBenchModel, startRuntime, waitReady } from "../lib/processes.ts";
import { bareTurnCall } from "../lib/baseline.ts";
import { benchDatabase } from "../lib/database.ts";

const CONVERSATIONS = Number(process.env.BENCH_CONVERSATIONS ?? 200);
const PERIOD_MS = Number(process.env.BENCH_PERIOD_S ?? 15) * 1000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 1_000);
// Enough workers for the turns in flight (rate x turn time, ~14 at the defaults), with room.
const WORKERS = Number(process.env.BENCH_WORKERS ?? 32);
const APP_KEY = "dingbenchjobkey";
const APP_SECRET = "bench-job-secret-0123456789";
const RUNTIME_PORT = 18_480;
const MODEL_PORT = 18_481;

/** Each conversation runs `rounds` iterations, one per period, its start offset by its index. */
async function paced(rounds: number, fn: (conversation: number, round: number) => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONVERSATIONS }, async (_, c) => {
      for (let r = 0; r < rounds; r++) {
        const due = t0 + (c / CONVERSATIONS) * PERIOD_MS + r * PERIOD_MS;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((res) => setTimeout(res, wait));
        await fn(c, r);
      }
    }),
  );
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const tdb = await benchDatabase("clawgate_bench_job");
  const children: ChildProcess[] = [];
  const model = await startBenchModel(MODEL_PORT, LATENCY_MS);
  children.push(model.proc);
  const api = await startFakeInternalApi({ port: 0 });
  const fake = await startFakeDingTalk({
    port: 0,
    appKey: APP_KEY,
    appSecret: APP_SECRET,
    callbackUrl: `http://127.0.0.1:${RUNTIME_PORT}/dingtalk/robot`,
  });
  const db = createDb(tdb.url, { max: 2 });
  try {
    const pgVersion = (await db.$queryRawUnsafe<{ server_version: string }[]>("SHOW server_version"))[0]!
      .server_version;
    await seedDemo(db, { modelBaseUrl: model.url, internalApiBaseUrl: api.url });
    const conversations = Array.from({ length: CONVERSATIONS }, (_, i) => `cid-job-${i}`);
    await db.$transaction(async (tx) => {
      await tx.conversation.createMany({
        data: conversations.map((conversationId) => ({
          conversationId,
          type: "GROUP" as const,
          status: "ENABLED" as const,
        })),
      });
      // The model's concurrency cap is not what is measured: room for every turn in flight.
      await tx.modelEndpoint.updateMany({ data: { maxConcurrency: WORKERS + 8 } });
      await recordConfigChange(tx, {
        actor: { type: "SYSTEM", name: "bench" },
        action: "config.onboard",
        targetType: "bench",
        summary: "bench setup",
      });
    });
    const snapshot = await loadPolicySnapshot(db);
    const endpoint = await db.modelEndpoint.findFirstOrThrow({ select: { model: true } });

    children.push(
      await startRuntime({
        databaseUrl: tdb.url,
        port: RUNTIME_PORT,
        fakeUrl: fake.url,
        appKey: APP_KEY,
        appSecret: APP_SECRET,
        workers: WORKERS,
      }),
    );
    await waitReady(`http://127.0.0.1:${RUNTIME_PORT}/ready`);

    const runMessages = async (rounds: number) => {
      const e2e: number[] = [];
      const acks: number[] = [];
      const timed: { msgId: string; t0: number; at: number }[] = [];
      let other = 0;
      let failed = 0;
      let firstOther: string | undefined;
      const wallMs = await paced(rounds, async (c) => {
        const conversationId = conversations[c]!;
        const t0 = Date.now();
        try {
          const { msgId, status } = await fake.deliver({
            conversationId,
            text: "hello",
            senderId: `bench-user-${c}`,
            via: "http",
          });
          acks.push(Date.now() - t0);
          if (status !== 200) throw new Error(`callback answered ${status}`);
          const [reply] = await fake.waitForReplies(conversationId, 1, 30_000);
          if (!reply!.text.startsWith("Demo model here")) {
            other += 1;
            firstOther ??= reply!.text.slice(0, 120);
          }
          e2e.push(reply!.at - t0);
          timed.push({ msgId, t0, at: reply!.at });
        } catch {
          failed += 1;
        }
      });
      return {
        e2e: sorted(e2e),
        acks: sorted(acks),
        other,
        failed,
        firstOther,
        rate: (e2e.length + failed) / (wallMs / 1000),
        timed,
      };
    };

    /**
     * Where the time went, from the rows' own timestamps (the database's clock, this machine's):
     * callback sent -> InboundMessage stored; stored -> the reply's OutboundMessage row (the job:
     * pickup, gate, limits, the turn with its model call); that row -> DingTalk has the reply (the send).
     */
    const stages = async (timed: { msgId: string; t0: number; at: number }[]) => {
      const rows = await db.$queryRawUnsafe<{ msgId: string; receivedAt: Date; replyRowAt: Date }[]>(
        `SELECT i."msgId", i."receivedAt", o."createdAt" AS "replyRowAt" FROM "InboundMessage" i
           JOIN "OutboundMessage" o ON o."idempotencyKey" = 'reply:' || i."id" WHERE i."msgId" = ANY($1::text[])`,
        timed.map((t) => t.msgId),
      );
      const byId = new Map(rows.map((r) => [r.msgId, r]));
      const stored: number[] = [];
      const job: number[] = [];
      const send: number[] = [];
      for (const t of timed) {
        const r = byId.get(t.msgId);
        if (!r) continue;
        stored.push(r.receivedAt.getTime() - t.t0);
        job.push(r.replyRowAt.getTime() - r.receivedAt.getTime());
        send.push(t.at - r.replyRowAt.getTime());
      }
      return { stored: sorted(stored), job: sorted(job), send: sorted(send) };
    };

    const { tools } = offeredTools(snapshot, {
      conversationId: conversations[0]!,
      userId: "bench-user-0",
      now: Date.now(),
    });
    const bare = bareTurnCall(model.url, endpoint.model, tools);
    const runBaseline = async (rounds: number) => {
      const times: number[] = [];
      await paced(rounds, async () => {
        const t0 = Date.now();
        await bare();
        times.push(Date.now() - t0);
      });
      return sorted(times);
    };

    // Warm-up (JIT, pools, caches, the first conversation upserts), not reported.
    await runBaseline(1);
    await runMessages(1);
    const base = await runBaseline(ROUNDS);
    const run = await runMessages(ROUNDS);
    const where = await stages(run.timed);

    const f = (n: number) => n.toFixed(1);
    const lines = [
      `${CONVERSATIONS} conversations, one message each every ${PERIOD_MS / 1000} s (starts spread evenly: ${(CONVERSATIONS / (PERIOD_MS / 1000)).toFixed(1)} messages/s), ${ROUNDS} rounds; demo model latency ${LATENCY_MS} ms (separate process); clawgate serve in HTTP mode with WORKER_CONCURRENCY=${WORKERS}; the fake DingTalk and the driver in this process. Times in ms.`,
      "",
      "| run | messages | per second | p50 | p90 | p99 | max | callback ack p50 | callback ack p99 | runtime's share p50 | runtime's share p99 | other replies | failed |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      `| bare openai SDK call (baseline) | ${base.length} | | ${f(pct(base, 0.5))} | ${f(pct(base, 0.9))} | ${f(pct(base, 0.99))} | ${f(base.at(-1) ?? NaN)} | | | | | | |`,
      `| message -> reply (text answer) | ${run.e2e.length} | ${run.rate.toFixed(1)} | ${f(pct(run.e2e, 0.5))} | ${f(pct(run.e2e, 0.9))} | ${f(pct(run.e2e, 0.99))} | ${f(run.e2e.at(-1) ?? NaN)} | ${f(pct(run.acks, 0.5))} | ${f(pct(run.acks, 0.99))} | **${f(pct(run.e2e, 0.5) - pct(base, 0.5))}** | **${f(pct(run.e2e, 0.99) - pct(base, 0.99))}** | ${run.other} | ${run.failed} |`,
    ];
    lines.push(
      "",
      "Where the message -> reply time went (from the rows' timestamps, database clock; ms):",
      "",
      "| stage | p50 | p90 | p99 |",
      "|---|---:|---:|---:|",
      `| callback sent -> InboundMessage stored | ${f(pct(where.stored, 0.5))} | ${f(pct(where.stored, 0.9))} | ${f(pct(where.stored, 0.99))} |`,
      `| stored -> reply row (the job, model call included) | ${f(pct(where.job, 0.5))} | ${f(pct(where.job, 0.9))} | ${f(pct(where.job, 0.99))} |`,
      `| the same minus the bare SDK call's p50 | ${f(pct(where.job, 0.5) - pct(base, 0.5))} | ${f(pct(where.job, 0.9) - pct(base, 0.5))} | ${f(pct(where.job, 0.99) - pct(base, 0.5))} |`,
      `| reply row -> DingTalk has the reply (the send) | ${f(pct(where.send, 0.5))} | ${f(pct(where.send, 0.9))} | ${f(pct(where.send, 0.99))} |`,
    );
    if (run.firstOther) lines.push("", `First other reply: ${run.firstOther}`);
    const cpu = os.cpus()[0]?.model ?? "unknown CPU";
    const header = `Machine: ${os.cpus().length} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, PostgreSQL ${pgVersion} on 127.0.0.1, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")} at the end. Date: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC.`;
    const out = `${header}\n\n${lines.join("\n")}\n`;
    writeFileSync(path.join(REPO_ROOT, "bench/job/latest.md"), out);
    console.log(`\n${out}`);
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await fake.close();
    await api.close();
    await db.$disconnect();
    // The runtime closes its connections on SIGTERM; give it a moment before the database goes.
    await new Promise((r) => setTimeout(r, 1_000));
    await tdb.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

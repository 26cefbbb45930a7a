/**
 * Agent benchmark: the runtime's overhead per model turn at 200 concurrent conversations.
 *
 *   npm run bench:agent                  (DATABASE_URL optional: embedded PostgreSQL otherwise)
 *   BENCH_CONCURRENCY=8,200 BENCH_TURNS=10 BENCH_LATENCY_MS=1000 BENCH_STAGGER=1 BENCH_DB_POOL=10 BENCH_WORKER_POOL=24 npm run bench:agent
 *
 * In this process: `createAgent(...).reply(...)` exactly as the worker calls it (real database
 * for the catalog, conversation memory, invocations and model-slot leases; policy snapshot
 * loaded from it), after the worker's conversation upsert, which brings the memory along, and
 * with the worker's wait for the memory save (which runs beside the reply's send) after it. In a child process: the demo model (OpenAI-compatible, over HTTP) answering
 * after a fixed latency. Each conversation runs its turns one after another; BENCH_CONCURRENCY
 * conversations run at once.
 *
 * Overhead per turn = turn wall time (until the answer is there to send) - the time spent inside
 * the model calls, measured around the SDK call (`chat.completions.create`, through the agent's ModelSlots hook: the slot's own
 * database work counts as overhead, the model's answer does not). Same run, same concurrency: a
 * baseline of bare openai SDK calls with the same request body, for the ratio.
 *
 * Also per turn: the time its statements on the worker pool took (from the call to the result,
 * so pool and event-loop waits included), and the process's CPU time per turn, total and minus
 * the bare SDK calls' CPU (what the runtime adds per turn: the number that decides how many
 * turns a core can run when the process is CPU-bound, as at 200 here).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createAgent, type ModelSlots } from "../../apps/bot/src/agent/index.ts";
import { offeredTools } from "../../apps/bot/src/agent/tools.ts";
import { createPgPool } from "../../apps/bot/src/db-pool.ts";
import { upsertConversation } from "../../apps/bot/src/worker/handle-inbound.ts";
import { createModelSlots } from "../../apps/bot/src/limits/model-slots.ts";
import { loadPolicySnapshot, recordConfigChange, seedDemo } from "../../packages/core/src/index.ts";
import { createDb } from "../../packages/db/src/index.ts";
import { startFakeInternalApi } from "@clawgate/devstack/fake-internal-api";
import { REPO_ROOT } from "@clawgate/devstack/paths";
import { pct, sorted, startBenchModel } from "../lib/processes.ts";
import { bareTurnCall } from "../lib/baseline.ts";
import { benchDatabase } from "../lib/database.ts";

// Each level is one set of rows: 8 is the runtime's default WORKER_CONCURRENCY, 200 the target's.
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? "8,200").split(",").map(Number);
const TURNS = Number(process.env.BENCH_TURNS ?? 10);
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 1_000);
// Conversations start out of phase over one model latency (BENCH_STAGGER=0: all at once).
const STAGGER = process.env.BENCH_STAGGER !== "0";
const MODEL_PORT = 18_410;
// Pools: Prisma's as `clawgate serve` makes it (10); the worker's pg pool, which the agent uses for
// memory, invocations and model slots, is WORKER_CONCURRENCY + 4 in the runtime (12 by default).
// 200 turns at once would want 204 connections; PostgreSQL here allows 100 for everyone.
const DB_POOL = Number(process.env.BENCH_DB_POOL ?? 10);
const WORKER_POOL = Number(process.env.BENCH_WORKER_POOL ?? 24);

interface Acc {
  dbMs: number;
  modelMs: number;
  slotMs: number;
  calls: number;
}

interface Sample extends Acc {
  wallMs: number;
  /** The worker's conversation upsert before the turn (one statement, the memory included). */
  upsertMs: number;
  /** From the answer until the memory save was stored (what the job waits for beside the send). */
  saveAfterMs: number;
}

interface TurnRun {
  /** Process CPU time (user + system) over the whole run. */
  cpuMs: number;
  samples: Sample[];
  notAnswered: number;
  errors: number;
  firstError: string | undefined;
  wallMs: number;
}

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

/**
 * `workers` loops at once, each running `perWorker` iterations of fn in sequence. With `staggerMs`
 * each loop starts after a random delay in [0, staggerMs): conversations out of phase, as real
 * ones are, instead of every one of them sending, and being answered, in the same millisecond
 * (a fixed-latency model keeps lock-stepped loops lock-stepped for the whole run).
 */
async function drive(
  workers: number,
  perWorker: number,
  fn: (worker: number, i: number) => Promise<void>,
  staggerMs = 0,
): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      if (staggerMs > 0) await new Promise((r) => setTimeout(r, Math.random() * staggerMs));
      for (let i = 0; i < perWorker; i++) await fn(w, i);
    }),
  );
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const tdb = await benchDatabase("clawgate_bench_agent");
  const model = await startBenchModel(MODEL_PORT, LATENCY_MS);
  const api = await startFakeInternalApi({ port: 0 });
  // The Prisma client and the worker's pool, as `clawgate serve` makes them (sizes: see above).
  const db = createDb(tdb.url, { max: DB_POOL, connectionTimeoutMillis: 2_000, applicationName: "bench-agent" });
  const workerPool = createPgPool(tdb.url, {
    max: WORKER_POOL,
    applicationName: "bench-agent-worker",
    connectionTimeoutMillis: 5_000,
    statementTimeoutMs: 60_000,
  });
  try {
    const pgVersion = ((await workerPool.query("SHOW server_version")).rows[0] as { server_version: string })
      .server_version;
    await seedDemo(db, { modelBaseUrl: model.url, internalApiBaseUrl: api.url });
    const conversations = Array.from({ length: Math.max(...CONCURRENCY) }, (_, i) => `cid-bench-${i}`);
    await db.$transaction(async (tx) => {
      await tx.conversation.createMany({
        data: conversations.map((conversationId) => ({
          conversationId,
          type: "GROUP" as const,
          status: "ENABLED" as const,
        })),
      });
      // The cap is not what is measured here: room for every conversation at once.
      await tx.modelEndpoint.updateMany({ data: { maxConcurrency: conversations.length + 10 } });
      await recordConfigChange(tx, {
        actor: { type: "SYSTEM", name: "bench" },
        action: "config.onboard",
        targetType: "bench",
        summary: "bench setup",
      });
    });
    const snapshot = await loadPolicySnapshot(db);
    const endpoint = await db.modelEndpoint.findFirstOrThrow({ select: { model: true } });

    // Time inside each model call (and around it, in the slot), attributed to the turn that made it.
    const turnStore = new AsyncLocalStorage<Acc>();
    const slots = createModelSlots({ pool: workerPool, waitMs: 60_000 });
    const timedSlots: ModelSlots = {
      run: async (ep, signal, fn) => {
        const outer = performance.now();
        let inner = 0;
        try {
          return await slots.run(ep, signal, async () => {
            const t0 = performance.now();
            try {
              return await fn();
            } finally {
              inner = performance.now() - t0;
            }
          });
        } finally {
          const acc = turnStore.getStore();
          if (acc) {
            acc.modelMs += inner;
            acc.slotMs += performance.now() - outer - inner;
            acc.calls += 1;
          }
        }
      },
    };
    // Time in the worker pool's statements (memory, invocations, slots), attributed to the turn.
    const query = workerPool.query.bind(workerPool) as (...args: unknown[]) => Promise<unknown>;
    Object.assign(workerPool, {
      query: async (...args: unknown[]) => {
        const t0 = performance.now();
        try {
          return await query(...args);
        } finally {
          const acc = turnStore.getStore();
          if (acc) acc.dbMs += performance.now() - t0;
        }
      },
    });
    const agent = createAgent({ db, pool: workerPool, modelSlots: timedSlots });

    const runTurns = async (workers: number, text: string, perConversation: number): Promise<TurnRun> => {
      const samples: Sample[] = [];
      let notAnswered = 0;
      let errors = 0;
      let firstError: string | undefined;
      const cpu0 = process.cpuUsage();
      const wallMs = await drive(
        workers,
        perConversation,
        async (w) => {
          const acc: Acc = { dbMs: 0, modelMs: 0, slotMs: 0, calls: 0 };
          const conversationId = conversations[w]!;
          try {
            const u0 = performance.now();
            const { memory } = await upsertConversation(
              workerPool,
              null, // stored in clear: this bench measures the turn without encryption
              {
                newId: `conv_${randomBytes(8).toString("hex")}`,
                conversationId,
                robotCode: null,
                title: null,
                type: "GROUP",
              },
              `reply:bench-${randomBytes(8).toString("hex")}`,
            );
            const t0 = performance.now();
            const reply = await turnStore.run(acc, () =>
              agent.reply({
                text,
                conversationId,
                userId: `bench-user-${w}`,
                traceId: randomBytes(16).toString("hex"),
                inboundId: null,
                snapshot,
                latest: () => snapshot,
                memory,
              }),
            );
            const t1 = performance.now();
            if (reply.outcome !== "answered") notAnswered += 1;
            const notSaved = await reply.remembered;
            if (notSaved) throw notSaved;
            samples.push({ wallMs: t1 - t0, upsertMs: t0 - u0, saveAfterMs: performance.now() - t1, ...acc });
          } catch (error) {
            // In the runtime the job would retry; here it is counted and left out of the latencies.
            errors += 1;
            firstError ??= error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 160) : String(error);
          }
        },
        STAGGER ? LATENCY_MS : 0,
      );
      return { samples, notAnswered, errors, firstError, wallMs, cpuMs: cpuMs(process.cpuUsage(cpu0)) };
    };

    // The baseline: the same request body (system prompt, a user message, the offered tools) through a bare SDK client.
    const { tools } = offeredTools(snapshot, {
      conversationId: conversations[0]!,
      userId: "bench-user-0",
      now: Date.now(),
    });
    const bare = bareTurnCall(model.url, endpoint.model, tools);
    const runBaseline = async (workers: number, perWorker: number) => {
      const times: number[] = [];
      const cpu0 = process.cpuUsage();
      const wallMs = await drive(
        workers,
        perWorker,
        async () => {
          const t0 = performance.now();
          await bare();
          times.push(performance.now() - t0);
        },
        STAGGER ? LATENCY_MS : 0,
      );
      return { times, rate: times.length / (wallMs / 1000), cpuPerCall: cpuMs(process.cpuUsage(cpu0)) / times.length };
    };

    const f = (n: number) => n.toFixed(2);
    const lines = [
      `Demo model latency ${LATENCY_MS} ms (separate process, HTTP); ${TURNS} turns per conversation, the conversations at once${STAGGER ? ` (each starting after a random 0-${LATENCY_MS} ms, so out of phase)` : " (in lock-step)"}; model-slot leases on; Prisma pool ${DB_POOL}, worker pool ${WORKER_POOL}. Overhead = turn wall - time inside the SDK's model calls; "slot" = the lease acquire/release around them (part of the overhead); "in DB" = the time of the turn's statements on the worker pool (slot's and the memory save's included; a tool call's SkillInvocation row is written while the next model call runs, so this can overlap the model time); "upsert" = the worker's conversation statement before the turn, which brings the memory; "save after answer" = how long after the answer the memory save was stored (the job waits for it beside the reply's send); CPU = the process's CPU time per turn, "runtime" = minus the bare SDK's CPU per call times the model calls.`,
      "",
      "| concurrency | run | turns | model calls/turn | wall p50 ms | wall p99 ms | in model p50 ms | overhead p50 ms | overhead p99 ms | overhead max ms | of which slot p50 ms | in DB p50 ms | in DB p99 ms | upsert p50 ms | save after answer p50 ms | save after answer p99 ms | CPU ms/turn | runtime CPU ms/turn | per second | vs bare SDK | not answered | errors |",
      "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ];
    const errorNotes: string[] = [];
    for (const workers of CONCURRENCY) {
      // Warm-up (JIT, pools, the per-revision catalog, the skill cache), not reported.
      await runBaseline(workers, 2);
      await runTurns(workers, "hello", 1);
      await runTurns(workers, "search the kb for vpn", 1);

      const baseline = await runBaseline(workers, TURNS);
      const base = sorted(baseline.times);
      lines.push(
        `| ${workers} | bare openai SDK call (baseline) | ${base.length} | 1.0 | ${f(pct(base, 0.5))} | ${f(pct(base, 0.99))} | ${f(pct(base, 0.5))} | | | | | | | | | | ${f(baseline.cpuPerCall)} | | ${baseline.rate.toFixed(0)} | 1.00x | | |`,
      );
      for (const [name, text] of [
        ['agent turn, text answer ("hello")', "hello"],
        ["agent turn, kb.search (cache hit) + answer", "search the kb for vpn"],
      ] as const) {
        const r = await runTurns(workers, text, TURNS);
        const wall = sorted(r.samples.map((x) => x.wallMs));
        const over = sorted(r.samples.map((x) => x.wallMs - x.modelMs));
        const slot = sorted(r.samples.map((x) => x.slotMs));
        const inModel = sorted(r.samples.map((x) => x.modelMs));
        const calls = r.samples.reduce((n, x) => n + x.calls, 0) / Math.max(1, r.samples.length);
        const rate = r.samples.length / (r.wallMs / 1000);
        const dbMs = sorted(r.samples.map((x) => x.dbMs));
        const upsert = sorted(r.samples.map((x) => x.upsertMs));
        const saveAfter = sorted(r.samples.map((x) => x.saveAfterMs));
        const cpuPerTurn = r.cpuMs / Math.max(1, r.samples.length);
        lines.push(
          `| ${workers} | ${name} | ${r.samples.length} | ${calls.toFixed(1)} | ${f(pct(wall, 0.5))} | ${f(pct(wall, 0.99))} | ${f(pct(inModel, 0.5))} | **${f(pct(over, 0.5))}** | **${f(pct(over, 0.99))}** | ${f(over.at(-1) ?? NaN)} | ${f(pct(slot, 0.5))} | ${f(pct(dbMs, 0.5))} | ${f(pct(dbMs, 0.99))} | ${f(pct(upsert, 0.5))} | ${f(pct(saveAfter, 0.5))} | ${f(pct(saveAfter, 0.99))} | ${f(cpuPerTurn)} | ${f(cpuPerTurn - calls * baseline.cpuPerCall)} | ${rate.toFixed(0)} | ${((rate * calls) / baseline.rate).toFixed(2)}x | ${r.notAnswered} | ${r.errors} |`,
        );
        if (r.firstError) errorNotes.push(`${workers} / ${name}: ${r.errors} turns threw, first: ${r.firstError}`);
        console.log(lines.at(-1));
      }
    }
    lines.push(
      "",
      '"vs bare SDK": model calls per second in the agent run over bare SDK calls per second at the same concurrency.',
    );
    for (const note of errorNotes) lines.push(`Errors: ${note}`);
    const cpu = os.cpus()[0]?.model ?? "unknown CPU";
    const header = `Machine: ${os.cpus().length} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, PostgreSQL ${pgVersion} on 127.0.0.1, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")} at the end. Date: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC.`;
    const out = `${header}\n\n${lines.join("\n")}\n`;
    writeFileSync(path.join(REPO_ROOT, "bench/agent/latest.md"), out);
    console.log(`\n${out}`);
  } finally {
    model.proc.kill("SIGTERM");
    await api.close();
    await workerPool.end();
    await db.$disconnect();
    await tdb.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

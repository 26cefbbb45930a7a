/**
 * Soak benchmark: a steady message rate at half the measured saturation rate for a long time.
 * Does memory grow, does latency drift, does the queue keep up?
 *
 *   npm run bench:soak                                   (30 minutes after a saturation probe)
 *   BENCH_SOAK_MIN=5 npm run bench:soak                  (a shorter one)
 *   BENCH_RATE=20 BENCH_REPLICAS=2 BENCH_WORKERS=8 BENCH_LATENCY_MS=200 BENCH_CONVERSATIONS=500 BENCH_PROBE_MESSAGES=2000
 *
 * Its own PostgreSQL cluster (embedded, a temp directory, port 18530: never the shared server),
 * BENCH_REPLICAS `clawgate serve` replicas (HTTP mode), the demo model in its own process, the
 * fake DingTalk and the driver in this process. First the saturation probe: BENCH_PROBE_MESSAGES
 * messages over the conversations as fast as 32 callback senders get them acknowledged, timed
 * from the first callback to the last reply received: the rate the whole path sustains. Then the
 * soak: half that rate (or BENCH_RATE), open loop, each message delivered until acknowledged, for
 * BENCH_SOAK_MIN minutes. Every 10 s: each replica's RSS (/proc/<pid>/status VmRSS; the replica is
 * one Node process) and the inbound queue (jobs due and not locked: count and oldest age). Per
 * message: callback sent -> its reply's `OutboundMessage.sentAt` (database clock, same machine).
 */
import type { ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { recordConfigChange, seedDemo } from "../../packages/core/src/index.ts";
import { createDb } from "../../packages/db/src/index.ts";
import { startEmbeddedPostgres } from "@clawgate/devstack/embedded-pg";
import { startFakeDingTalk } from "@clawgate/devstack/fake-dingtalk";
import { createTestDatabase } from "@clawgate/devstack/testdb";
import { WORKING_REPLY } from "../../apps/bot/src/worker/handle-inbound.ts";
import { pct, sorted, startBenchModel, report, startRuntime, UNTHROTTLED, waitReady } from "../lib/processes.ts";

const SOAK_MS = Number(process.env.BENCH_SOAK_MIN ?? 30) * 60_000;
const REPLICAS = Number(process.env.BENCH_REPLICAS ?? 2);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 8);
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 200);
const CONVERSATIONS = Number(process.env.BENCH_CONVERSATIONS ?? 500);
const PROBE = Number(process.env.BENCH_PROBE_MESSAGES ?? 2_000);
const FIXED_RATE = process.env.BENCH_RATE ? Number(process.env.BENCH_RATE) : undefined;
const SAMPLE_MS = 10_000;
/** The windows compared for drift: the first and the last this long of the soak. */
const EDGE_MS = Math.min(5 * 60_000, SOAK_MS / 3);
const APP_KEY = "dingbenchsoakkey";
const APP_SECRET = "bench-soak-secret-0123456789";
const PORTS = { pg: 18_530, model: 18_531, replicas: Array.from({ length: REPLICAS }, (_, i) => 18_532 + i) };

const spawned: ChildProcess[] = [];
process.on("exit", () => spawned.forEach((c) => c.kill("SIGKILL")));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

function rssMiB(pid: number | undefined): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8")
      .split("\n")
      .find((l) => l.startsWith("VmRSS:"));
    return Number(line?.split(/\s+/)[1]) / 1024;
  } catch {
    return NaN;
  }
}

const QUEUE = `
SELECT count(*)::int AS "waiting", COALESCE(extract(epoch FROM now() - min(j.run_at)), 0)::float AS "oldestS"
  FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id
 WHERE t.identifier = 'inbound.handle' AND j.locked_at IS NULL AND j.run_at <= now()`;

interface Sample {
  at: number;
  rss: number[];
  waiting: number;
  oldestS: number;
}

async function main(): Promise<void> {
  const pgDir = mkdtempSync(path.join(os.tmpdir(), "clawgate-bench-soak-"));
  chmodSync(pgDir, 0o755); // as root, the cluster runs as `postgres`, which must enter it
  const cluster = await startEmbeddedPostgres({ dataDir: path.join(pgDir, "data"), port: PORTS.pg });
  const tdb = await createTestDatabase({ serverUrl: cluster.serverUrl, prefix: "clawgate_bench_soak" });
  const db = createDb(tdb.url, { max: 2 });
  const model = await startBenchModel(PORTS.model, LATENCY_MS);
  spawned.push(model.proc);
  const bases = PORTS.replicas.map((p) => `http://127.0.0.1:${p}`);
  // The fake's callbacks go to the replicas in turn (a load balancer in front of them).
  let next = 0;
  const fakes = await Promise.all(
    bases.map((base) =>
      startFakeDingTalk({
        port: 0,
        appKey: APP_KEY,
        appSecret: APP_SECRET,
        callbackUrl: `${base}/dingtalk/robot`,
        callbackTimeoutMs: 10_000,
      }),
    ),
  );
  const conversations = Array.from({ length: CONVERSATIONS }, (_, i) => `cid-soak-${i}`);
  const replicas: ChildProcess[] = [];
  try {
    await seedDemo(db, { modelBaseUrl: model.url });
    await db.$transaction(
      async (tx) => {
        await tx.conversation.createMany({
          data: conversations.map((conversationId) => ({
            conversationId,
            type: "GROUP" as const,
            status: "ENABLED" as const,
          })),
        });
        await tx.tokenBudget.updateMany({
          data: { requestsPerMinute: 1_000_000, dailyTokens: 2_000_000_000, monthlyTokens: null },
        });
        await tx.modelEndpoint.updateMany({ data: { maxConcurrency: REPLICAS * WORKERS + 8 } });
        await recordConfigChange(tx, {
          actor: { type: "SYSTEM", name: "bench" },
          action: "config.onboard",
          targetType: "bench",
          summary: "bench setup",
        });
      },
      { timeout: 120_000 },
    );
    for (const port of PORTS.replicas) {
      const proc = await startRuntime({
        databaseUrl: tdb.url,
        port,
        // Every fake answers sends the same way; replies are counted over all of them.
        fakeUrl: fakes[0]!.url,
        appKey: APP_KEY,
        appSecret: APP_SECRET,
        workers: WORKERS,
        // Every fake's sessionWebhooks are allowed (each fake has its own port): a reply goes by its
        // message's webhook, so it is tied to the message it answers.
        env: { ...UNTHROTTLED, DINGTALK_WEBHOOK_HOSTS: fakes.map((f) => new URL(f.url).host).join(",") },
      });
      spawned.push(proc);
      replicas.push(proc);
      proc.on("exit", (code, signal) => console.log(`replica :${port} exited (${code ?? signal})`));
    }
    await Promise.all(bases.map((b) => waitReady(`${b}/ready`)));
    const replies = () => fakes.reduce((n, f) => n + f.sent.length, 0);

    let seq = 0;
    const sentAt = new Map<string, number>();
    /** One message, delivered until acknowledged (DingTalk retries an unacknowledged callback). */
    const deliver = async (): Promise<void> => {
      const i = seq++;
      const msgId = `soak-${i}`;
      const conversationId = conversations[i % conversations.length]!;
      sentAt.set(msgId, Date.now());
      for (let tries = 0; tries < 60; tries++) {
        const fake = fakes[next++ % fakes.length]!;
        const r = await fake
          .deliver({ conversationId, text: `message ${i}`, msgId, senderId: `user-${i % 97}`, via: "http" })
          .catch(() => ({ status: 0 }));
        if (r.status === 200) return;
        await sleep(1_000);
      }
    };

    // Saturation probe.
    let rate = FIXED_RATE;
    let probeRate = NaN;
    if (rate === undefined) {
      const base = replies();
      const t0 = Date.now();
      let left = PROBE;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (left-- > 0) await deliver();
        }),
      );
      while (replies() - base < PROBE && Date.now() - t0 < 600_000) await sleep(100);
      probeRate = PROBE / ((Date.now() - t0) / 1000);
      rate = probeRate / 2;
      console.log(`saturation probe: ${probeRate.toFixed(1)} messages/s; soaking at ${rate.toFixed(1)}/s`);
      await sleep(5_000);
    }

    // The soak.
    const soakFrom = seq;
    const samples: Sample[] = [];
    const t0 = Date.now();
    const sampler = (async () => {
      while (Date.now() - t0 < SOAK_MS + 5_000) {
        const q = await db.$queryRawUnsafe<{ waiting: number; oldestS: number }[]>(QUEUE).catch(() => []);
        samples.push({
          at: Date.now() - t0,
          rss: replicas.map((r) => rssMiB(r.pid)),
          waiting: q[0]?.waiting ?? NaN,
          oldestS: q[0]?.oldestS ?? NaN,
        });
        await sleep(SAMPLE_MS - ((Date.now() - t0) % SAMPLE_MS));
      }
    })();
    const inFlight: Promise<void>[] = [];
    for (let k = 0; Date.now() - t0 < SOAK_MS; k++) {
      await sleep(t0 + (k / rate) * 1000 - Date.now());
      const p = deliver();
      inFlight.push(p);
      if (inFlight.length > 5_000) await Promise.all(inFlight.splice(0, 4_000));
    }
    await Promise.all(inFlight);
    await sampler;
    const soakTo = seq;
    const expected = soakTo;
    const waitUntil = Date.now() + 120_000;
    while (replies() < expected && Date.now() < waitUntil) await sleep(500);
    await sleep(3_000);

    const rows = await db.$queryRawUnsafe<{ msgId: string; at: Date | null }[]>(
      `SELECT i."msgId", o."sentAt" AS at FROM "InboundMessage" i
         LEFT JOIN "OutboundMessage" o ON o."idempotencyKey" = 'reply:' || i."id" AND o."status" = 'SENT'`,
    );
    const answered = new Map(rows.filter((r) => r.at).map((r) => [r.msgId, r.at!.getTime()]));
    const window = (from: number, to: number) => {
      const xs: number[] = [];
      for (let i = soakFrom; i < soakTo; i++) {
        const s = sentAt.get(`soak-${i}`)!;
        const a = answered.get(`soak-${i}`);
        if (s - t0 >= from && s - t0 < to && a !== undefined) xs.push(a - s);
      }
      return sorted(xs);
    };
    // Replies per message (the fake records which message's sessionWebhook carried a send).
    const perMessage = new Map<string, number>();
    let interim = 0;
    let untied = 0;
    for (const sent of fakes.flatMap((fk) => fk.sent)) {
      if (sent.text === WORKING_REPLY) interim += 1;
      else if (sent.inReplyTo) perMessage.set(sent.inReplyTo, (perMessage.get(sent.inReplyTo) ?? 0) + 1);
      else untied += 1;
    }
    const doubled = [...perMessage.entries()].filter(([, n]) => n > 1);
    for (const [msgId, n] of doubled) console.log(`answered ${n} times: ${msgId}`);
    const soakLen = Date.now() - t0;
    const first = window(0, EDGE_MS);
    const last = window(SOAK_MS - EDGE_MS, SOAK_MS);
    const all = window(0, Infinity);
    const unanswered = soakTo - soakFrom - all.length;
    const edge = (from: number, to: number) => samples.filter((s) => s.at >= from && s.at < to);
    const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-");
    const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : "-");
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const firstS = edge(0, EDGE_MS);
    const lastS = edge(SOAK_MS - EDGE_MS, SOAK_MS + 1);
    const minutes = (EDGE_MS / 60_000).toFixed(1);

    const lines = [
      `${REPLICAS} replicas (WORKER_CONCURRENCY=${WORKERS} each), demo model ${LATENCY_MS} ms, ${CONVERSATIONS} conversations. ` +
        (FIXED_RATE === undefined
          ? `Saturation probe: ${PROBE} messages at once -> ${f1(probeRate)} messages/s through the whole path; soak at half: ${f1(rate)}/s`
          : `Soak at BENCH_RATE=${f1(rate)}/s (no probe)`) +
        ` for ${(soakLen / 60_000).toFixed(1)} min (${soakTo - soakFrom} messages). Drift windows: the first and last ${minutes} min.`,
      "",
      "| replica | RSS at start MiB | RSS first window mean | RSS last window mean | RSS at end | max | growth (end - start) | growth per hour (last - first window) |",
      "|---|---:|---:|---:|---:|---:|---:|---:|",
      ...replicas.map((_, r) => {
        const start = samples[0]?.rss[r] ?? NaN;
        const end = samples.at(-1)?.rss[r] ?? NaN;
        const a = mean(firstS.map((s) => s.rss[r]!));
        const b = mean(lastS.map((s) => s.rss[r]!));
        const hours = (SOAK_MS - EDGE_MS) / 3_600_000;
        return `| ${r} | ${f0(start)} | ${f0(a)} | ${f0(b)} | ${f0(end)} | ${f0(Math.max(...samples.map((s) => s.rss[r]!)))} | ${f0(end - start)} | ${f0((b - a) / hours)} |`;
      }),
      "",
      "| window | messages answered | p50 ms | p90 ms | p99 ms | max ms | queue waiting max | oldest queued job max s |",
      "|---|---:|---:|---:|---:|---:|---:|---:|",
      ...(
        [
          [`first ${minutes} min`, first, firstS],
          [`last ${minutes} min`, last, lastS],
          ["whole soak", all, samples],
        ] as const
      ).map(
        ([name, xs, ss]) =>
          `| ${name} | ${xs.length} | ${f0(pct(xs, 0.5))} | ${f0(pct(xs, 0.9))} | ${f0(pct(xs, 0.99))} | ${f0(xs.at(-1) ?? NaN)} | ${f0(Math.max(...ss.map((s) => s.waiting)))} | ${f1(Math.max(...ss.map((s) => s.oldestS)))} |`,
      ),
      "",
      `p99 drift (last - first window): ${f0(pct(last, 0.99) - pct(first, 0.99))} ms. Unanswered soak messages: ${unanswered}. Replies received in all: ${replies()} for ${soakTo} messages (probe included): messages answered more than once ${doubled.length}, "Working on it" interim messages ${interim}, replies not by a message's sessionWebhook ${untied}.`,
    ];
    report("soak", lines);
    if (unanswered > 0) process.exitCode = 1;
  } finally {
    for (const child of spawned.splice(0)) child.kill("SIGTERM");
    await Promise.all(fakes.map((f) => f.close()));
    await db.$disconnect();
    await sleep(1_000);
    await tdb.drop().catch(() => {});
    await cluster.stop();
    rmSync(pgDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

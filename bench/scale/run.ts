/**
 * Scale benchmark: how cost grows with data (issue 16). On a big database (fill.ts: 10,000
 * conversations, 500,000 rules, 5M inbound messages, 20M skill invocations, 1M audit rows by
 * default) and, in the same run, on an empty one (migrated, demo seed):
 *
 * 1. Policy snapshot: the runtime's own `loadPolicySnapshot` (what every replica runs on a config
 *    change), timed, with the heap it holds (after GC) and the process RSS it adds.
 * 2. Console pages: a production build under `next start` against the big database, one real
 *    sign-in (bench/lib/console.ts, as bench/console), then the TTFB of the Overview, Audit log and
 *    Conversations pages and of the tRPC queries they make (the next audit page, a filtered and a
 *    deep conversation page included). Target: p75 <= 300 ms.
 * 3. Ack: `clawgate serve` (ingress only) on each database, signed callbacks at a fixed rate
 *    (autocannon), the server-side ack times from the runtime's own histogram (bench/lib/ack.ts).
 *    Targets: p50 <= 5 ms, p99 <= 25 ms (bench/ingress).
 * 4. Turn overhead: `createAgent(...).reply(...)` as the worker calls it (as bench/agent) on each
 *    database; overhead = turn wall time - time inside the model calls. Targets: p50 <= 2 ms,
 *    p99 <= 10 ms (bench/agent).
 *
 *   npm run bench:scale                          (DATABASE_URL: the shared server; default postgres://postgres@127.0.0.1:5432/postgres)
 *   BENCH_SCALE_INBOUND=50000 BENCH_SCALE_INVOCATIONS=200000 BENCH_SCALE_AUDIT=10000 npm run bench:scale   (a small run, its own database)
 *   BENCH_BUILD=0 npm run bench:scale            (reuse apps/console/.next-scale)
 *   BENCH_SCALE_REFILL=1 npm run bench:scale     (drop and refill the big database)
 *   BENCH_SCALE_PARTS=statements,snapshot,overview,ack,turn,console  (which parts to run)
 *   BENCH_SCALE_DAYS=1 BENCH_SCALE_INBOUND=55000 BENCH_SCALE_INVOCATIONS=220000 ...  (one day of the full size's traffic)
 *
 * The big database is kept (named clawgate_scale for the default sizes); rows the run adds
 * (acknowledged messages, their jobs, the turn conversations' memory) are removed at the end.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import os from "node:os";
import v8 from "node:v8";
import vm from "node:vm";
import autocannon from "autocannon";
import pg from "pg";
import { robotSign } from "@clawgate/dingtalk";
import { createAgent, type ModelSlots } from "../../apps/bot/src/agent/index.ts";
import { createPgPool } from "../../apps/bot/src/db-pool.ts";
import { createModelSlots } from "../../apps/bot/src/limits/model-slots.ts";
import { upsertConversation } from "../../apps/bot/src/worker/handle-inbound.ts";
import { loadPolicySnapshot, recordConfigChange, seedDemo } from "../../packages/core/src/index.ts";
import { createDb } from "../../packages/db/src/index.ts";
import { startFakeInternalApi } from "@clawgate/devstack/fake-internal-api";
import { ackBuckets, robotMessage, serverSide, type ServerSide } from "../lib/ack.ts";
import { consoleBench, navTargets, type Target, trpcQueryPath } from "../lib/console.ts";
import { benchDatabase } from "../lib/database.ts";
import { pct, report, sorted, startBenchModel, startRuntime, waitReady } from "../lib/processes.ts";
import { ensureScaleDatabase, sizesFromEnv } from "./fill.ts";
import { getOverview } from "../../packages/core/src/console/overview.ts";
import { rollHours } from "../../packages/core/src/console/rollup.ts";

// Both databases on the same server (benchDatabase reads DATABASE_URL), so the ratios compare data, not servers.
const SERVER_URL = (process.env.DATABASE_URL ??= "postgresql://postgres@127.0.0.1:5432/postgres");
const PARTS = new Set((process.env.BENCH_SCALE_PARTS ?? "statements,snapshot,overview,ack,turn,console").split(","));
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 40);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
const SNAPSHOT_LOADS = Number(process.env.BENCH_SNAPSHOT_LOADS ?? 10);
const ACK_RATE = Number(process.env.BENCH_ACK_RATE ?? 300);
const ACK_SECONDS = Number(process.env.BENCH_ACK_SECONDS ?? 10);
const TURN_CONCURRENCY = Number(process.env.BENCH_TURN_CONCURRENCY ?? 8);
const TURNS = Number(process.env.BENCH_TURNS ?? 10);
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 200);
// Bench-only ports (bench/console: 3021/3121, bench/ingress: 18080/18099, bench/agent: 18410).
const RUNTIME_PORT = 18_180;
const MODEL_PORT = 18_430;
const bench = consoleBench({ consolePort: 3022, oidcPort: 3122, distDir: ".next-scale" });
const APP_KEY = "dingscaleackbench";
const APP_SECRET = randomBytes(24).toString("base64url");
const TURN_CONVERSATION = (i: number) => `cid-scale-turn-${i}`;

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "n/a");
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "n/a");
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
const loads: number[] = [];
const sampleLoad = setInterval(() => loads.push(os.loadavg()[0]!), 5_000);

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Policy snapshot
// ---------------------------------------------------------------------------------------------

interface SnapshotResult {
  rules: number;
  conversations: number;
  loads: number[];
  incremental: number[];
  heapHeldMiB: string;
  rssAddedMiB: string;
  peakRssMiB: string;
}

async function measureSnapshot(url: string): Promise<SnapshotResult> {
  const db = createDb(url, { max: 2, applicationName: "bench-scale-snapshot" });
  try {
    await db.$queryRaw`SELECT 1`; // the connection
    gc();
    const heap0 = process.memoryUsage().heapUsed;
    await loadPolicySnapshot(db); // warm-up: query plans, JIT
    gc();
    const rss0 = process.memoryUsage().rss;
    const maxRss0 = process.resourceUsage().maxRSS * 1024;
    const times: number[] = [];
    let held: Awaited<ReturnType<typeof loadPolicySnapshot>> | null = null;
    for (let i = 0; i < SNAPSHOT_LOADS; i++) {
      const t0 = performance.now();
      held = await loadPolicySnapshot(db);
      times.push(performance.now() - t0);
    }
    // The heap the policy takes (after a full GC, against before the first load): the snapshot
    // held, plus whatever the load leaves referenced (one load's data stays reachable after the
    // snapshot is dropped: 42 of 42 MiB in a probe; not traced further).
    gc();
    const heapHeld = process.memoryUsage().heapUsed - heap0;
    const rssAdded = process.memoryUsage().rss - rss0;
    let rules = 0;
    for (const s of held!.skills.values()) rules += s.conversationRules.effects.size + s.userRules.effects.size;
    const conversations = held!.conversations.size;
    const peak = process.resourceUsage().maxRSS * 1024;
    // Incremental reloads, as a replica does on a change: one rule flipped (an even number of
    // times, so the data ends as it was), then the load given the previous snapshot.
    const incremental: number[] = [];
    const flips = SNAPSHOT_LOADS % 2 === 0 ? SNAPSHOT_LOADS : SNAPSHOT_LOADS + 1;
    for (let i = 0; i < flips; i++) {
      await db.$executeRaw`UPDATE "SkillRule" SET effect = CASE effect WHEN 'ALLOW' THEN 'DENY'::"RuleEffect" ELSE 'ALLOW'::"RuleEffect" END
        WHERE id = (SELECT id FROM "SkillRule" ORDER BY id LIMIT 1)`;
      const t0 = performance.now();
      held = await loadPolicySnapshot(db, held!);
      incremental.push(performance.now() - t0);
    }
    return {
      rules,
      conversations,
      loads: sorted(times),
      incremental: sorted(incremental),
      heapHeldMiB: mib(heapHeld),
      rssAddedMiB: mib(rssAdded),
      peakRssMiB: `${mib(peak)} (was ${mib(maxRss0)})`,
    };
  } finally {
    await db.$disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// The Overview: its 24-hour counts read live, then with the closed hours rolled up
// ---------------------------------------------------------------------------------------------

const OVERVIEW_CALLS = Number(process.env.BENCH_OVERVIEW_CALLS ?? 20);

async function measureOverview(url: string) {
  const db = createDb(url, { max: 4 });
  try {
    const calls = async () => {
      await getOverview(db); // warm
      const times: number[] = [];
      for (let i = 0; i < OVERVIEW_CALLS; i++) {
        const t0 = performance.now();
        await getOverview(db);
        times.push(performance.now() - t0);
      }
      return sorted(times);
    };
    await db.hourlyRollup.deleteMany();
    const live = await calls();
    const t0 = performance.now();
    const hoursRolled = (await rollHours(db)).length;
    const rollMs = performance.now() - t0;
    const rolled = await calls();
    return { live, rolled, rollMs, hoursRolled };
  } finally {
    await db.$disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// Statements: EXPLAIN (ANALYZE, BUFFERS) of the hot ones, each in a transaction rolled back
// ---------------------------------------------------------------------------------------------

const SINCE_24H = `date_trunc('hour', now()) - interval '23 hours'`;
const STATEMENTS: { name: string; sql: string }[] = [
  {
    name: "Overview: inbound by hour and status, last 24 h",
    sql: `SELECT date_trunc('hour', "receivedAt") AS hour, status::text AS status, count(*) AS n
          FROM "InboundMessage" WHERE "receivedAt" >= ${SINCE_24H} GROUP BY 1, 2`,
  },
  {
    name: "Overview: skill calls by hour, decision and outcome, last 24 h",
    sql: `SELECT date_trunc('hour', "createdAt") AS hour, decision::text AS decision, outcome::text AS outcome, count(*) AS n
          FROM "SkillInvocation" WHERE "createdAt" >= ${SINCE_24H} GROUP BY 1, 2, 3`,
  },
  {
    name: "Overview: top skills, last 24 h",
    sql: `SELECT "skillKey", count(*) AS calls, count(*) FILTER (WHERE decision = 'DENY') AS denied,
                 count(*) FILTER (WHERE outcome IN ('ERROR', 'TIMEOUT')) AS errors
          FROM "SkillInvocation" WHERE "createdAt" >= ${SINCE_24H}
          GROUP BY 1 ORDER BY calls DESC, "skillKey" ASC LIMIT 5`,
  },
  {
    name: "the same inbound count over the whole table (every message inside the window: 5M in 24 h)",
    sql: `SELECT date_trunc('hour', "receivedAt") AS hour, status::text AS status, count(*) AS n
          FROM "InboundMessage" WHERE "receivedAt" >= now() - interval '${sizesFromEnv().days + 1} days' GROUP BY 1, 2`,
  },
  {
    name: "Audit log: first page (newest 26)",
    sql: `SELECT id, at, "actorType", "actorName", action, "targetType", "targetId", diff, "traceId", hash
          FROM "AuditLog" ORDER BY id DESC LIMIT 26`,
  },
  {
    name: "Audit log: target types (loose index scan)",
    sql: `WITH RECURSIVE t AS (
            (SELECT "targetType" FROM "AuditLog" ORDER BY "targetType" LIMIT 1)
            UNION ALL
            SELECT (SELECT a."targetType" FROM "AuditLog" a WHERE a."targetType" > t."targetType" ORDER BY a."targetType" LIMIT 1)
            FROM t WHERE t."targetType" IS NOT NULL)
          SELECT "targetType" FROM t WHERE "targetType" IS NOT NULL`,
  },
  {
    name: "Audit log: target types as Prisma's distinct read them (every row)",
    sql: `SELECT "targetType" FROM "AuditLog" ORDER BY "targetType"`,
  },
  {
    name: "Conversations: first page (most recently seen 20)",
    sql: `SELECT id, "conversationId", title, type, environment, status, "firstSeenAt", "lastSeenAt"
          FROM "Conversation" ORDER BY "lastSeenAt" DESC, id ASC LIMIT 20 OFFSET 0`,
  },
  { name: "Conversations: count", sql: `SELECT count(*) FROM "Conversation"` },
  {
    name: "Snapshot: rules grouped as JSON",
    sql: `SELECT "skillKey", scope::text AS scope, effect::text AS effect, json_agg(subject)::text AS subjects
          FROM "SkillRule" GROUP BY 1, 2, 3`,
  },
  {
    name: "Ingest: one message (the insert of ingest.ts, without its job)",
    sql: `INSERT INTO "InboundMessage" ("id", "robotCode", "msgId", "channel", "conversationId", "senderId", "msgType", "payload", "traceId")
          VALUES ('inb_explain', 'dingscaleexplain', 'msg-explain', 'HTTP', 'cid-scale-000001', 'staff-scale-1', 'text', '{}', 'explain')
          ON CONFLICT ("robotCode", "msgId") DO NOTHING`,
  },
  {
    name: "Turn: one SkillInvocation row",
    sql: `INSERT INTO "SkillInvocation" ("id", "traceId", "conversationId", "userId", "skillKey", "decision", "reasons", "outcome", "configRevision")
          VALUES ('inv_explain', 'explain', 'cid-scale-000001', 'staff-scale-1', 'kb.search', 'ALLOW', '{}', 'SUCCESS', 1)`,
  },
  {
    name: "Retention: one batch (1,000 oldest messages; the FKs set their invocations' reference to NULL)",
    sql: `DELETE FROM "InboundMessage" WHERE "id" IN (
            SELECT "id" FROM "InboundMessage" WHERE "receivedAt" < now() - make_interval(hours => 24) LIMIT 1000)`,
  },
];

interface PlanNode {
  "Node Type": string;
  "Index Name"?: string;
  "Relation Name"?: string;
  "Shared Hit Blocks"?: number;
  "Shared Read Blocks"?: number;
  Plans?: PlanNode[];
}

/** Median execution time of 3 runs (after one), the scans of the plan, and the buffers of the last run. */
async function explainStatements(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const rows: string[] = [];
  try {
    for (const st of STATEMENTS) {
      const times: number[] = [];
      let plan:
        { Plan: PlanNode; "Execution Time": number; Triggers?: { "Trigger Name": string; Time: number }[] } | undefined;
      for (let i = 0; i < 4; i++) {
        await c.query("BEGIN");
        try {
          const r = await c.query<{ "QUERY PLAN": [typeof plan] }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${st.sql}`);
          plan = r.rows[0]!["QUERY PLAN"][0];
          if (i > 0) times.push(plan!["Execution Time"]);
        } finally {
          await c.query("ROLLBACK");
        }
      }
      const scans: string[] = [];
      const walk = (n: PlanNode) => {
        if (/Scan/.test(n["Node Type"]) && n["Relation Name"] !== undefined)
          scans.push(`${n["Node Type"]}${n["Index Name"] ? ` (${n["Index Name"]})` : ` (${n["Relation Name"]})`}`);
        for (const child of n.Plans ?? []) walk(child);
      };
      walk(plan!.Plan);
      const triggers = (plan!.Triggers ?? []).reduce((t, x) => t + x.Time, 0);
      const buffers = `${plan!.Plan["Shared Hit Blocks"] ?? 0} hit / ${plan!.Plan["Shared Read Blocks"] ?? 0} read`;
      rows.push(
        `| ${st.name} | **${f1(pct(sorted(times), 0.5))}** | ${triggers ? f1(triggers) : ""} | ${[...new Set(scans)].join(", ")} | ${buffers} |`,
      );
      console.log(rows.at(-1));
    }
  } finally {
    await c.end();
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// 2. Console pages
// ---------------------------------------------------------------------------------------------

async function measureConsole(url: string): Promise<string[]> {
  const env = bench.env(url);
  const oidc = await bench.startOidc();
  let proc: ChildProcess | undefined;
  try {
    await bench.build(env, process.env.BENCH_BUILD !== "0");
    proc = await bench.start(env);
    const { cookie, overviewQuery } = await bench.signIn();
    const { page, api } = bench.headers(cookie);
    const ok = (needle: string) => (r: { status: number; body: Buffer }) => r.status === 200 && r.body.includes(needle);
    // The audit page's second page: the cursor of the first one (as the page's "Older" button).
    const first = await bench.get(trpcQueryPath("audit.list", { limit: 25 }), api);
    const cursor = (
      JSON.parse(first.body.toString()) as [{ result: { data: { json: { nextCursor: string | null } } } }]
    )[0].result.data.json.nextCursor;
    const pages = navTargets(page).filter((t) => ["/overview", "/audit", "/conversations"].includes(t.path));
    const targets: Target[] = [
      { name: "/api/health (baseline)", path: "/api/health", headers: {}, check: (r) => r.status === 200 },
      ...pages,
      {
        name: "tRPC overview.get (the Overview's poll)",
        path: overviewQuery ?? trpcQueryPath("overview.get", undefined),
        headers: api,
        check: ok('"replicas"'),
      },
      {
        name: "tRPC deadLetter.list (Overview)",
        path: trpcQueryPath("deadLetter.list", undefined),
        headers: api,
        check: ok('"result"'),
      },
      {
        name: "tRPC audit.list, first page",
        path: trpcQueryPath("audit.list", { limit: 25 }),
        headers: api,
        check: ok('"items"'),
      },
      {
        name: "tRPC audit.list, next page (cursor)",
        path: trpcQueryPath("audit.list", { limit: 25, ...(cursor ? { cursor } : {}) }),
        headers: api,
        check: ok('"items"'),
      },
      {
        name: 'tRPC audit.list, action filter "safe_mode"',
        path: trpcQueryPath("audit.list", { limit: 25, actionPrefix: "safe_mode" }),
        headers: api,
        check: ok('"items"'),
      },
      {
        name: "tRPC audit.targetTypes (filter options)",
        path: trpcQueryPath("audit.targetTypes", undefined),
        headers: api,
        check: ok('"result"'),
      },
      {
        name: "tRPC conversation.list, first page",
        path: trpcQueryPath("conversation.list", { page: 1, pageSize: 20 }),
        headers: api,
        check: ok('"items"'),
      },
      {
        name: "tRPC conversation.list, PENDING, page 50",
        path: trpcQueryPath("conversation.list", { status: "PENDING", page: 50, pageSize: 20 }),
        headers: api,
        check: ok('"items"'),
      },
      {
        name: 'tRPC conversation.list, search "chat 99"',
        path: trpcQueryPath("conversation.list", { search: "chat 99", page: 1, pageSize: 20 }),
        headers: api,
        check: ok('"items"'),
      },
    ];
    const rows: string[] = [];
    const perClient = Math.max(1, Math.ceil(REQUESTS / CLIENTS));
    for (const t of targets) {
      await bench.measure(t, 1, 3); // warm-up: module loading, JIT, pools
      const seq = await bench.measure(t, 1, REQUESTS);
      const par = await bench.measure(t, CLIENTS, perClient);
      const s = sorted(seq.ttfb);
      const p = sorted(par.ttfb);
      const errors = seq.errors + par.errors;
      const met = t.path === "/api/health" ? "" : pct(s, 0.75) <= 300 && pct(p, 0.75) <= 300 ? "met" : "**not met**";
      rows.push(
        `| ${t.name} | ${f1(pct(s, 0.5))} | **${f1(pct(s, 0.75))}** | ${f1(pct(s, 0.99))} | ${f1(pct(p, 0.5))} | **${f1(pct(p, 0.75))}** | ${f1(pct(p, 0.99))} | ${(seq.bytes / 1024).toFixed(1)} | ${errors} | ${met} |`,
      );
      console.log(rows.at(-1));
      if (errors) console.log(`  errors: ${seq.firstError ?? par.firstError}`);
    }
    return rows;
  } finally {
    if (proc) await bench.stop(proc);
    await oidc.close();
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Ack
// ---------------------------------------------------------------------------------------------

interface AckResult {
  server: ServerSide;
  rps: number;
  clientP99: number;
  non2xx: number;
  errors: number;
}

async function measureAck(url: string): Promise<AckResult> {
  const runtime = await startRuntime({
    databaseUrl: url,
    port: RUNTIME_PORT,
    fakeUrl: "http://127.0.0.1:9",
    appKey: APP_KEY,
    appSecret: APP_SECRET,
    workers: 0, // ingress only: the acknowledged messages wait in the queue
    // The big database holds 90 days, the default retention of messages: the hourly purge may
    // take the oldest hour's rows during a run (a few thousand of 5M).
  });
  try {
    await waitReady(`http://127.0.0.1:${RUNTIME_PORT}/ready`);
    const target = `http://127.0.0.1:${RUNTIME_PORT}/dingtalk/robot`;
    const run = async (rate: number, seconds: number) => {
      let signedAt = 0;
      let headers: Record<string, string> = {};
      let seq = 0;
      const prefix = randomBytes(4).toString("hex");
      return autocannon({
        url: target,
        method: "POST",
        connections: Math.min(64, Math.max(8, Math.ceil(rate / 20))),
        overallRate: rate,
        duration: seconds,
        requests: [
          {
            setupRequest: (req) => {
              const now = Date.now();
              if (now - signedAt > 1_000) {
                const timestamp = String(now);
                headers = { "content-type": "application/json", timestamp, sign: robotSign(timestamp, APP_SECRET) };
                signedAt = now;
              }
              // Spread over the big database's conversations, as real traffic is.
              const conv = `cid-scale-${String(seq % 10_000).padStart(6, "0")}`;
              return { ...req, headers, body: JSON.stringify(robotMessage(`${prefix}-${seq++}`, APP_KEY, conv)) };
            },
          },
        ],
      });
    };
    await run(ACK_RATE, 2); // warm-up
    const metrics = `http://127.0.0.1:${RUNTIME_PORT}/metrics`;
    const before = await ackBuckets(metrics);
    const r = await run(ACK_RATE, ACK_SECONDS);
    const server = serverSide(before, await ackBuckets(metrics));
    return {
      server,
      rps: r.requests.average,
      clientP99: r.latency.p99,
      non2xx: r.non2xx,
      errors: r.errors + r.timeouts,
    };
  } finally {
    runtime.kill("SIGTERM");
    await new Promise((resolve) => runtime.once("exit", resolve));
    // What the run added: the acknowledged messages and their queued jobs.
    await query(url, `DELETE FROM "InboundMessage" WHERE "robotCode" = $1`, [APP_KEY]);
    await query(url, `DELETE FROM graphile_worker._private_jobs`).catch(() => []);
  }
}

// ---------------------------------------------------------------------------------------------
// 4. Turn overhead
// ---------------------------------------------------------------------------------------------

interface TurnResult {
  kind: string;
  turns: number;
  overhead: number[];
  dbMs: number[];
  errors: number;
  firstError?: string;
}

async function measureTurns(url: string, modelUrl: string, apiUrl: string): Promise<TurnResult[]> {
  const db = createDb(url, { max: 10, connectionTimeoutMillis: 2_000, applicationName: "bench-scale-turn" });
  const pool = createPgPool(url, {
    max: TURN_CONCURRENCY + 4,
    applicationName: "bench-scale-worker",
    connectionTimeoutMillis: 5_000,
    statementTimeoutMs: 60_000,
  });
  try {
    const conversations = Array.from({ length: TURN_CONCURRENCY }, (_, i) => TURN_CONVERSATION(i));
    await db.$transaction(async (tx) => {
      await tx.conversation.createMany({
        data: conversations.map((conversationId) => ({
          conversationId,
          type: "GROUP" as const,
          status: "ENABLED" as const,
        })),
        skipDuplicates: true,
      });
      // Each run starts the turn conversations without memory (a kept database keeps their rows).
      await tx.$executeRaw`DELETE FROM "ConversationMemory" m USING "Conversation" c
        WHERE m."conversationId" = c.id AND c."conversationId" LIKE 'cid-scale-turn-%'`;
      await tx.$executeRaw`UPDATE "ModelEndpoint" SET "baseUrl" = ${modelUrl}, "maxConcurrency" = ${TURN_CONCURRENCY + 10}`;
      await tx.$executeRaw`UPDATE "Skill" SET settings = jsonb_set(settings, '{baseUrl}', to_jsonb(${apiUrl}::text))
        WHERE settings ? 'baseUrl'`;
      await recordConfigChange(tx, {
        actor: { type: "SYSTEM", name: "bench" },
        action: "config.onboard",
        targetType: "bench",
        summary: "bench/scale: turn setup",
      });
    });
    const snapshot = await loadPolicySnapshot(db);
    const store = new AsyncLocalStorage<{ modelMs: number; dbMs: number }>();
    const slots = createModelSlots({ pool, waitMs: 60_000 });
    const timedSlots: ModelSlots = {
      run: (ep, signal, fn) =>
        slots.run(ep, signal, async () => {
          const t0 = performance.now();
          try {
            return await fn();
          } finally {
            const acc = store.getStore();
            if (acc) acc.modelMs += performance.now() - t0;
          }
        }),
    };
    const q = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
    Object.assign(pool, {
      query: async (...args: unknown[]) => {
        const t0 = performance.now();
        try {
          return await q(...args);
        } finally {
          const acc = store.getStore();
          if (acc) acc.dbMs += performance.now() - t0;
        }
      },
    });
    const agent = createAgent({ db, pool, modelSlots: timedSlots });
    const run = async (text: string, perConversation: number) => {
      const r: Omit<TurnResult, "kind"> = { turns: 0, overhead: [], dbMs: [], errors: 0 };
      await Promise.all(
        conversations.map(async (conversationId, w) => {
          await new Promise((res) => setTimeout(res, Math.random() * LATENCY_MS)); // out of phase
          for (let i = 0; i < perConversation; i++) {
            const acc = { modelMs: 0, dbMs: 0 };
            try {
              const { memory } = await upsertConversation(
                pool,
                null, // stored in clear (no data key ring in this bench)
                {
                  newId: `conv_${randomBytes(8).toString("hex")}`,
                  conversationId,
                  robotCode: null,
                  title: null,
                  type: "GROUP",
                },
                `reply:scale-${randomBytes(8).toString("hex")}`,
              );
              const t0 = performance.now();
              const reply = await store.run(acc, () =>
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
              const wallMs = performance.now() - t0;
              if (reply.outcome !== "answered") throw new Error(`not answered: ${reply.outcome}`);
              const notSaved = await reply.remembered;
              if (notSaved) throw notSaved;
              r.turns += 1;
              r.overhead.push(wallMs - acc.modelMs);
              r.dbMs.push(acc.dbMs);
            } catch (error) {
              r.errors += 1;
              r.firstError ??= error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 160) : String(error);
            }
          }
        }),
      );
      return r;
    };
    const results: TurnResult[] = [];
    for (const [kind, text] of [
      ['text answer ("hello")', "hello"],
      ["kb.search + answer (writes a SkillInvocation)", "search the kb for vpn"],
    ] as const) {
      await run(text, 1); // warm-up: JIT, pools, the per-revision catalog, the skill cache
      const r = await run(text, TURNS);
      results.push({ kind, ...r, overhead: sorted(r.overhead), dbMs: sorted(r.dbMs) });
    }
    return results;
  } finally {
    await pool.end();
    await db.$disconnect();
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const sizes = sizesFromEnv();
  const t0 = performance.now();
  const big = await ensureScaleDatabase(SERVER_URL, sizes, { refill: process.env.BENCH_SCALE_REFILL === "1" });
  console.log(
    `${big.reused ? "reusing" : "filled"} ${big.name} (filled ${big.marker.filledAt} in ${big.marker.fillSeconds} s) after ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
  const empty = await benchDatabase("clawgate_scale_empty");
  const model = await startBenchModel(MODEL_PORT, LATENCY_MS);
  const api = await startFakeInternalApi({ port: 0 });
  const lines: string[] = [];
  try {
    {
      const db = createDb(empty.url, { max: 2 });
      await seedDemo(db, { modelBaseUrl: model.url, internalApiBaseUrl: api.url });
      await db.$disconnect();
    }
    const pgVersion = (await query<{ v: string }>(big.url, `SELECT current_setting('server_version') AS v`))[0]!.v;
    const shared = (await query<{ v: string }>(big.url, `SELECT current_setting('shared_buffers') AS v`))[0]!.v;
    const tables = await query<{ t: string; rows: string; size: string; recent: string }>(
      big.url,
      `SELECT t, (SELECT reltuples::bigint FROM pg_class WHERE oid = format('%I', t)::regclass)::text AS rows,
              pg_size_pretty(pg_total_relation_size(format('%I', t)::regclass)) AS size, '' AS recent
       FROM unnest(ARRAY['Conversation','SkillRule','InboundMessage','SkillInvocation','AuditLog']) t`,
    );
    const [recent] = await query<{ inbound: string; invocations: string }>(
      big.url,
      `SELECT (SELECT count(*) FROM "InboundMessage" WHERE "receivedAt" >= now() - interval '24 hours')::text AS inbound,
              (SELECT count(*) FROM "SkillInvocation" WHERE "createdAt" >= now() - interval '24 hours')::text AS invocations`,
    );
    const dbSize = (
      await query<{ s: string }>(big.url, `SELECT pg_size_pretty(pg_database_size(current_database())) AS s`)
    )[0]!.s;
    lines.push(
      `PostgreSQL ${pgVersion} on 127.0.0.1 (the shared server, shared_buffers ${shared}; the rest of the 24 GiB is the OS page cache). Big database \`${big.name}\`: ${dbSize}, filled ${big.marker.filledAt.slice(0, 16)} UTC in ${big.marker.fillSeconds} s; data over the ${big.marker.sizes.days} days before the fill, ${recent!.inbound} inbound messages and ${recent!.invocations} skill invocations in the last 24 hours at the time of the run. Empty database: migrated, demo seed.`,
      "",
      "| table | rows (estimate) | size with indexes |",
      "|---|---:|---:|",
      ...tables.map((t) => `| ${t.t} | ${Number(t.rows).toLocaleString("en")} | ${t.size} |`),
      "",
    );

    if (PARTS.has("statements")) {
      const rows = await explainStatements(big.url);
      lines.push(
        "### Statements on the big database (EXPLAIN (ANALYZE, BUFFERS), median of 3 after one, each rolled back)",
        "",
        "| statement | execution ms | of which FK triggers ms | scans | buffers (last run) |",
        "|---|---:|---:|---|---|",
        ...rows,
        "",
      );
    }

    if (PARTS.has("snapshot")) {
      const e = await measureSnapshot(empty.url);
      const b = await measureSnapshot(big.url);
      lines.push(
        `### Policy snapshot load (\`loadPolicySnapshot\`, ${SNAPSHOT_LOADS} loads one after another)`,
        "",
        "| database | conversations | rules in the snapshot | full load p50 ms | full load max ms | reload after one rule changed p50 ms | its max ms | heap held after GC MiB | RSS added over the loads MiB | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        `| empty | ${e.conversations} | ${e.rules} | ${f1(pct(e.loads, 0.5))} | ${f1(e.loads.at(-1)!)} | ${f1(pct(e.incremental, 0.5))} | ${f1(e.incremental.at(-1)!)} | ${e.heapHeldMiB} | ${e.rssAddedMiB} | ${e.peakRssMiB} |`,
        `| big | ${b.conversations} | ${b.rules} | ${f1(pct(b.loads, 0.5))} | ${f1(b.loads.at(-1)!)} | **${f1(pct(b.incremental, 0.5))}** | ${f1(b.incremental.at(-1)!)} | ${b.heapHeldMiB} | ${b.rssAddedMiB} | ${b.peakRssMiB} |`,
        "",
      );
      console.log(lines.slice(-3).join("\n"));
    }

    if (PARTS.has("overview")) {
      const o = await measureOverview(big.url);
      lines.push(
        `### The Overview's numbers (core \`getOverview\`, what the console's \`overview.get\` poll runs; ${OVERVIEW_CALLS} calls one after another)`,
        "",
        "| last 24 h read | p50 ms | p75 ms | p99 ms |",
        "|---|---:|---:|---:|",
        `| live (every row of the window; the Overview before the rollup) | ${f1(pct(o.live, 0.5))} | ${f1(pct(o.live, 0.75))} | ${f1(pct(o.live, 0.99))} |`,
        `| closed hours from the hourly rollup, the last two live | **${f1(pct(o.rolled, 0.5))}** | **${f1(pct(o.rolled, 0.75))}** | ${f1(pct(o.rolled, 0.99))} |`,
        `| rolled / live | ${f2(pct(o.rolled, 0.5) / pct(o.live, 0.5))}x | ${f2(pct(o.rolled, 0.75) / pct(o.live, 0.75))}x | ${f2(pct(o.rolled, 0.99) / pct(o.live, 0.99))}x |`,
        "",
        `Rolling the ${o.hoursRolled} closed hours once (the runtime's \`overview.rollup\` job, from nothing): ${f1(o.rollMs)} ms.`,
        "",
      );
      console.log(lines.slice(-8).join("\n"));
    }

    if (PARTS.has("ack")) {
      const e = await measureAck(empty.url);
      const b = await measureAck(big.url);
      const row = (name: string, r: AckResult) =>
        `| ${name} | ${r.rps.toFixed(0)} | ${f1(r.server.p50)} | ${f1(r.server.p99)} | ${(r.server.within5 * 100).toFixed(1)}% | ${(r.server.within25 * 100).toFixed(2)}% | ${r.clientP99} | ${r.non2xx} | ${r.errors} |`;
      lines.push(
        `### Ack (\`clawgate serve\`, ingress only, ${ACK_RATE} req/s for ${ACK_SECONDS} s after 2 s warm-up; server side from its histogram)`,
        "",
        "| database | achieved req/s | server p50 ms | server p99 ms | acks <= 5 ms | acks <= 25 ms | client p99 ms | non-2xx | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        row("empty", e),
        row("big", b),
        `| big / empty | | ${f2(b.server.p50 / e.server.p50)}x | ${f2(b.server.p99 / e.server.p99)}x | | | | | |`,
        "",
      );
      console.log(lines.slice(-5).join("\n"));
    }

    if (PARTS.has("turn")) {
      const e = await measureTurns(empty.url, model.url, api.url);
      const b = await measureTurns(big.url, model.url, api.url);
      lines.push(
        `### Turn overhead (\`createAgent().reply\` as the worker calls it, ${TURN_CONCURRENCY} conversations at once, ${TURNS} turns each, demo model at ${LATENCY_MS} ms)`,
        "",
        "| turn | database | turns | overhead p50 ms | overhead p99 ms | in DB p50 ms | in DB p99 ms | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
      );
      for (let i = 0; i < e.length; i++) {
        for (const [name, r] of [
          ["empty", e[i]!],
          ["big", b[i]!],
        ] as const)
          lines.push(
            `| ${r.kind} | ${name} | ${r.turns} | **${f2(pct(r.overhead, 0.5))}** | **${f2(pct(r.overhead, 0.99))}** | ${f2(pct(r.dbMs, 0.5))} | ${f2(pct(r.dbMs, 0.99))} | ${r.errors}${r.firstError ? ` (${r.firstError})` : ""} |`,
          );
        lines.push(
          `| ${e[i]!.kind} | big / empty | | ${f2(pct(b[i]!.overhead, 0.5) / pct(e[i]!.overhead, 0.5))}x | ${f2(pct(b[i]!.overhead, 0.99) / pct(e[i]!.overhead, 0.99))}x | | | |`,
        );
      }
      lines.push("");
      console.log(lines.slice(-8).join("\n"));
    }

    if (PARTS.has("console")) {
      const rows = await measureConsole(big.url);
      lines.push(
        `### Console TTFB on the big database (signed-in admin, \`next start\`, node:http keep-alive, gzip; ${REQUESTS} requests one at a time, then ${CLIENTS} clients; target p75 <= 300 ms)`,
        "",
        `| request | seq p50 ms | seq p75 ms | seq p99 ms | ${CLIENTS} clients p50 ms | ${CLIENTS} clients p75 ms | ${CLIENTS} clients p99 ms | KiB | errors | p75 <= 300 ms |`,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ...rows,
        "",
      );
    }
    clearInterval(sampleLoad);
    lines.push(
      `Load average (1 min) sampled every 5 s during the run: ${loads.length ? `${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}` : "n/a"} (2 cores, shared with other work).`,
    );
    report("scale", lines);
  } finally {
    clearInterval(sampleLoad);
    model.proc.kill("SIGTERM");
    await api.close();
    bench.close();
    await empty.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

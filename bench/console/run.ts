/**
 * Console benchmark: page TTFB for a signed-in admin, and how fast a config change shows as
 * "applied on all replicas".
 *
 *   npm run bench:console                 (DATABASE_URL optional: embedded PostgreSQL otherwise)
 *   BENCH_REQUESTS=50 BENCH_CLIENTS=4 BENCH_CHANGES=200 BENCH_SHOWN_CHANGES=40 BENCH_REPLICAS=3 npm run bench:console
 *   BENCH_BUILD=0 npm run bench:console   (reuse apps/console/.next-bench from an earlier run)
 *
 * 1. Pages: the console built for production into its own folder (.next-bench, never e2e's
 *    .next-e2e) and served by `next start` on a bench-only port, against a fresh database with the
 *    demo seed and a day of traffic (fixture.ts). One real sign-in through the local OIDC provider
 *    (playwright-core + Debian's Chromium), then plain node:http requests with that session cookie:
 *    every page of the sidebar (nav-items.ts), the tRPC query the Overview polls, and /api/health
 *    as the same-run baseline; sequentially, then from a few clients at once.
 * 2. Config propagation: BENCH_REPLICAS child processes running the runtime's policy store and
 *    heartbeat (replica.ts). Each change is made the way the console's `configMutation` does it
 *    (core's `setFlag` + `recordConfigChange` in one transaction); measured from the commit to each
 *    replica applying the revision and to every heartbeat row naming it. Then, with the Overview's
 *    own poll (its tRPC query every 1.5 s over HTTP, like the page), from the commit to the first
 *    answer that says "applied on N of N".
 * 3. Scoped safe mode: BENCH_SCOPED activations (MAINTENANCE on one conversation) made with core's
 *    `setSafeMode` (what the console's safeMode.set runs), each ended again; from the commit to
 *    every replica applying it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createFlag, setFlag } from "../../packages/core/src/console/flags.ts";
import { setSafeMode } from "../../packages/core/src/safe-mode.ts";
import { DEMO_CONVERSATION_ID } from "../../packages/core/src/seed/demo.ts";
import { loadPolicySnapshot, recordConfigChange, type AuditAction } from "../../packages/core/src/index.ts";
import { createDb, type Db, type Tx } from "../../packages/db/src/index.ts";
import { REPO_ROOT } from "@clawgate/devstack/paths";
import { seedVolume } from "./fixture.ts";
import type { ReplicaMessage } from "./replica.ts";
import { benchDatabase } from "../lib/database.ts";
import {
  ADMIN,
  consoleBench,
  navTargets,
  OVERVIEW_POLL_MS,
  type Target,
  type Timed,
  trpcQueryPath,
} from "../lib/console.ts";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 50);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
const CHANGES = Number(process.env.BENCH_CHANGES ?? 200);
const SHOWN_CHANGES = Number(process.env.BENCH_SHOWN_CHANGES ?? 40);
const REPLICAS = Number(process.env.BENCH_REPLICAS ?? 3);
const SCOPED = Number(process.env.BENCH_SCOPED ?? 20);
const BUILD = process.env.BENCH_BUILD !== "0";
// Bench-only ports (npm start: 3000/3100, e2e: 3001/3101).
const bench = consoleBench({
  consolePort: Number(process.env.BENCH_CONSOLE_PORT ?? 3021),
  oidcPort: Number(process.env.BENCH_OIDC_PORT ?? 3121),
  distDir: ".next-bench",
});
const { get } = bench;

const wall = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
/** Nearest-rank percentile of a sorted array. */
const pct = (s: number[], p: number) => (s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]! : NaN);
const ms = (n: number) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(1)) : "n/a");

// ---------------------------------------------------------------------------------------------
// Replicas
// ---------------------------------------------------------------------------------------------

interface Replica {
  proc: ChildProcess;
  id: string;
  /** Per revision: when the snapshot was installed and when the heartbeat row named it. */
  notified: Map<number, number>;
  applied: Map<number, number>;
  beat: Map<number, number>;
  onReport?: () => void;
}

function startReplica(databaseUrl: string): Promise<Replica> {
  const proc = spawn(process.execPath, ["--import", "tsx", "bench/console/replica.ts"], {
    cwd: REPO_ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    const replica: Replica = { proc, id: "", notified: new Map(), applied: new Map(), beat: new Map() };
    proc.on("message", (m: ReplicaMessage) => {
      if (m.type === "ready") {
        replica.id = m.id;
        resolve(replica);
      } else {
        replica[m.type].set(m.revision, m.at);
        replica.onReport?.();
      }
    });
    proc.once("exit", (code) => reject(new Error(`replica exited (${code}) before it was ready`)));
  });
}

/** The first time at which this replica reported `kind` for `revision` or a later one (reloads coalesce). */
function reachedAt(m: Map<number, number>, revision: number): number | undefined {
  let first: number | undefined;
  for (const [rev, at] of m) if (rev >= revision && (first === undefined || at < first)) first = at;
  return first;
}

function untilAll(replicas: Replica[], done: () => boolean, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (ok: boolean) => {
      for (const r of replicas) r.onReport = undefined;
      clearTimeout(timer);
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    const check = () => done() && finish(true);
    for (const r of replicas) r.onReport = check;
    check();
  });
}

// ---------------------------------------------------------------------------------------------
// Config changes, as the console's configMutation makes them
// ---------------------------------------------------------------------------------------------

const BENCH_FLAG = "bench.toggle";
const actor = { type: "USER" as const, id: null, name: ADMIN.email };

async function configChange<T>(
  db: Db,
  action: AuditAction,
  summary: string,
  change: (tx: Tx) => Promise<T>,
): Promise<number> {
  return db.$transaction(async (tx) => {
    await change(tx);
    return recordConfigChange(tx, { actor, action, targetType: "feature_flag", targetId: BENCH_FLAG, summary });
  });
}

/** The bench flag's state: created off, flipped by each change (setFlag refuses a no-op toggle). */
let flagOn = false;
const toggle = (db: Db) => {
  flagOn = !flagOn;
  return configChange(db, "flag.update", `bench: ${BENCH_FLAG} ${flagOn ? "on" : "off"}`, (tx) =>
    setFlag(tx, { key: BENCH_FLAG, enabled: flagOn }),
  );
};

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const tdb = await benchDatabase("clawgate_bench_console", { dataDir: ".data/bench-console-pg", port: 54332 });
  const db = createDb(tdb.url, { max: 4, applicationName: "bench-console" });
  const env = bench.env(tdb.url);
  const oidc = await bench.startOidc();
  let consoleProc: ChildProcess | undefined;
  const replicas: Replica[] = [];
  const loads: number[][] = [];
  const sampleLoad = setInterval(() => loads.push(os.loadavg()), 5_000);
  try {
    const pgVersion = (await db.$queryRaw<{ server_version: string }[]>`SHOW server_version`)[0]!.server_version;
    const t0 = performance.now();
    const volume = await seedVolume(db, {});
    await configChange(db, "flag.create", `bench: create ${BENCH_FLAG}`, (tx) =>
      createFlag(tx, { key: BENCH_FLAG, description: "Toggled by bench/console.", enabled: false }),
    );
    console.log(`seeded ${JSON.stringify(volume)} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    await bench.build(env, BUILD);
    consoleProc = await bench.start(env);

    // Replicas first: the Overview then shows N live replicas, as in production.
    for (let i = 0; i < REPLICAS; i++) replicas.push(await startReplica(tdb.url));

    const { cookie, overviewQuery } = await bench.signIn();
    const overviewPath = overviewQuery ?? trpcQueryPath("overview.get", undefined);
    console.log(
      `signed in as ${ADMIN.email}; Overview poll: ${overviewQuery ? "the request the page made" : "not seen in the browser, using the httpBatchLink shape"} (${decodeURIComponent(overviewPath)})`,
    );
    const { page, api } = bench.headers(cookie);
    const targets: Target[] = [
      {
        name: "/api/health (baseline)",
        path: "/api/health",
        headers: { "accept-encoding": "gzip" },
        check: (r) => r.status === 200,
      },
      ...navTargets(page),
      {
        name: "tRPC overview.get (the Overview's 1.5 s poll)",
        path: overviewPath,
        headers: api,
        check: (r: Timed) => r.status === 200 && r.body.includes('"replicas"'),
      },
    ];

    // ---- 1. TTFB ----
    const pageRows: string[] = [];
    let healthP50 = NaN;
    const perClient = Math.max(1, Math.ceil(REQUESTS / CLIENTS));
    for (const t of targets) {
      await bench.measure(t, 1, 3); // warm-up: module loading, JIT, pools
      const seq = await bench.measure(t, 1, REQUESTS);
      const par = await bench.measure(t, CLIENTS, perClient);
      const s = sorted(seq.ttfb);
      const p = sorted(par.ttfb);
      const st = sorted(seq.total);
      if (t.path === "/api/health") healthP50 = pct(s, 0.5);
      const errors = seq.errors + par.errors;
      pageRows.push(
        `| ${t.name} | ${ms(pct(s, 0.5))} | **${ms(pct(s, 0.75))}** | ${ms(pct(s, 0.99))} | ${ms(s.at(-1) ?? NaN)} | ${ms(pct(st, 0.75))} | ${ms(pct(p, 0.5))} | **${ms(pct(p, 0.75))}** | ${ms(pct(p, 0.99))} | ${(pct(s, 0.5) / healthP50).toFixed(1)}x | ${(seq.bytes / 1024).toFixed(1)} | ${errors} |`,
      );
      console.log(pageRows.at(-1));
      if (errors) console.log(`  errors: ${seq.firstError ?? par.firstError}`);
    }
    const loadAfterPages = os.loadavg();

    // ---- 2a. Commit -> each replica applied / heartbeat rows ----
    // For scale: the snapshot load alone, in this process, one at a time.
    const soloLoad: number[] = [];
    for (let i = 0; i < 20; i++) {
      const l0 = performance.now();
      await loadPolicySnapshot(db);
      soloLoad.push(performance.now() - l0);
    }
    const notified: number[] = [];
    const loadMs: number[] = [];
    const perReplica: number[] = [];
    const everyReplica: number[] = [];
    const allBeats: number[] = [];
    const txMs: number[] = [];
    let timeouts = 0;
    let rowsDisagree = 0;
    for (let i = 0; i < CHANGES; i++) {
      const start = wall();
      const revision = await toggle(db);
      const committed = wall();
      txMs.push(committed - start);
      const ok = await untilAll(
        replicas,
        () => replicas.every((r) => reachedAt(r.beat, revision) !== undefined),
        10_000,
      );
      if (!ok) timeouts += 1;
      const applied = replicas.map((r) => reachedAt(r.applied, revision));
      const beats = replicas.map((r) => reachedAt(r.beat, revision));
      for (const [k, a] of applied.entries()) {
        if (a === undefined) continue;
        perReplica.push(a - committed);
        const n = replicas[k]!.notified.get(revision);
        if (n !== undefined) {
          notified.push(n - committed);
          loadMs.push(a - n);
        }
      }
      if (applied.every((a) => a !== undefined)) everyReplica.push(Math.max(...(applied as number[])) - committed);
      if (beats.every((b) => b !== undefined)) allBeats.push(Math.max(...(beats as number[])) - committed);
      // What the Overview reads: every heartbeat row names this revision (or a later one).
      const rows = await db.runtimeInstance.count({ where: { appliedRevision: { gte: revision } } });
      if (rows < replicas.length) rowsDisagree += 1;
      await sleep(20 + Math.random() * 30);
    }
    const loadAfterPropagation = os.loadavg();

    // ---- 2c. Scoped safe mode: commit -> every replica applied ----
    const scopedEvery: number[] = [];
    let scopedTimeouts = 0;
    const benchActor = { type: "SYSTEM" as const, name: "bench" };
    for (let i = 0; i < SCOPED * 2; i++) {
      const on = i % 2 === 0;
      const r = await setSafeMode(
        db,
        benchActor,
        on
          ? { active: true, level: "MAINTENANCE", scopes: [`conversation:${DEMO_CONVERSATION_ID}`], reason: "bench" }
          : { active: false, all: true, reason: "bench" },
      );
      const committed = wall();
      const ok = await untilAll(
        replicas,
        () => replicas.every((x) => reachedAt(x.applied, r.revision) !== undefined),
        10_000,
      );
      if (!ok) scopedTimeouts += 1;
      const applied = replicas.map((x) => reachedAt(x.applied, r.revision));
      if (on && applied.every((a) => a !== undefined)) scopedEvery.push(Math.max(...(applied as number[])) - committed);
      await sleep(20 + Math.random() * 30);
    }

    // ---- 2b. Commit -> the Overview's poll says "applied on N of N" ----
    let latestShown = { revision: 0, at: 0, upToDate: 0, online: 0 };
    let onShown: (() => void) | undefined;
    let pollErrors = 0;
    const fetchMs: number[] = [];
    let inFlight = false;
    const poll = async () => {
      if (inFlight) return; // React Query does not stack refetches either
      inFlight = true;
      try {
        const r = await get(overviewPath, api);
        fetchMs.push(r.total);
        const [first] = JSON.parse(r.body.toString()) as [
          {
            result: {
              data: { json: { config: { latest: { revision: number } | null; online: number; upToDate: number } } };
            };
          },
        ];
        const c = first.result.data.json.config;
        latestShown = { revision: c.latest?.revision ?? 0, at: wall(), upToDate: c.upToDate, online: c.online };
        onShown?.();
      } catch {
        pollErrors += 1;
      } finally {
        inFlight = false;
      }
    };
    const poller = setInterval(() => void poll(), OVERVIEW_POLL_MS);
    const shown: number[] = [];
    let notShown = 0;
    try {
      for (let i = 0; i < SHOWN_CHANGES; i++) {
        // A change at a random moment of the page's poll cycle.
        await sleep(Math.random() * OVERVIEW_POLL_MS);
        const revision = await toggle(db);
        const committed = wall();
        const ok = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), 10_000);
          onShown = () => {
            const l = latestShown;
            if (l.revision >= revision && l.online >= replicas.length && l.upToDate === l.online) {
              clearTimeout(timer);
              resolve(true);
            }
          };
        });
        onShown = undefined;
        if (ok) shown.push(latestShown.at - committed);
        else notShown += 1;
      }
    } finally {
      clearInterval(poller);
    }

    // ---- Report ----
    clearInterval(sampleLoad);
    const loadRange = (i: number) => {
      const xs = loads.map((l) => l[i]!);
      return xs.length ? `${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)}` : "n/a";
    };
    const row = (name: string, xs: number[], extra = "") => {
      const s = sorted(xs);
      return `| ${name} | ${s.length} | ${ms(pct(s, 0.5))} | ${ms(pct(s, 0.95))} | ${ms(pct(s, 0.99))} | ${ms(s.at(-1) ?? NaN)} | ${extra} |`;
    };
    const cpu = os.cpus()[0]?.model ?? "unknown CPU";
    const lines = [
      `Machine: ${os.cpus().length} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, PostgreSQL ${pgVersion} on 127.0.0.1. Date: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC.`,
      `Load average (1 min) sampled every 5 s during the run: ${loadRange(0)}; at the end of the page runs ${loadAfterPages.map((l) => l.toFixed(1)).join(" ")}, after the propagation run ${loadAfterPropagation.map((l) => l.toFixed(1)).join(" ")}.`,
      `Data: ${volume.conversations} conversations, ${volume.inbound} inbound messages, ${volume.invocations} skill invocations and ${volume.audit} audit rows over the last 24 h, ${volume.approvals} approvals, plus the demo seed; ${replicas.length} live replicas.`,
      "",
      `### Page TTFB (signed-in admin, \`next start\`, node:http keep-alive, gzip)`,
      "",
      `Sequential: ${REQUESTS} requests per page after 3 warm-up; concurrent: ${CLIENTS} clients x ${perClient}. TTFB = request written -> status line and headers received; "full" = last byte.`,
      "",
      `| page | seq p50 ms | seq p75 ms | seq p99 ms | seq max ms | seq full p75 ms | ${CLIENTS} clients p50 ms | ${CLIENTS} clients p75 ms | ${CLIENTS} clients p99 ms | seq p50 vs health | KiB | errors |`,
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...pageRows,
      "",
      `### Config change -> applied (${replicas.length} replicas, child processes, LISTEN/NOTIFY + 5 s poll)`,
      "",
      `Each change: core's setFlag + recordConfigChange in one transaction (as configMutation), then wait until every replica's heartbeat names it, then 20-50 ms. Times from the commit acknowledged to the console (the transaction itself: p50 ${ms(pct(sorted(txMs), 0.5))} ms, p99 ${ms(pct(sorted(txMs), 0.99))} ms).`,
      "",
      "| from commit to | samples | p50 ms | p95 ms | p99 ms | max ms | note |",
      "|---|---:|---:|---:|---:|---:|---|",
      row("the NOTIFY reached a replica (probe connection)", notified, "delivery only"),
      row(
        "NOTIFY -> that replica's new snapshot installed",
        loadMs,
        "the snapshot load (from the NOTIFY, not the commit)",
      ),
      row(
        "(for scale) one loadPolicySnapshot alone, in the bench process",
        soloLoad,
        "not from a commit: 20 loads one at a time",
      ),
      row("one replica applied the snapshot", perReplica, `${CHANGES} changes x ${replicas.length} replicas`),
      row(
        "**every replica applied** (target: p50 <= 150, p99 <= 1000, never > 5000)",
        everyReplica,
        `${timeouts} changes not applied within 10 s`,
      ),
      row(
        "every heartbeat row names it (what the Overview reads)",
        allBeats,
        `rows checked after each change: ${rowsDisagree} disagreed`,
      ),
      row(
        `**Overview's poll shows "applied on ${replicas.length} of ${replicas.length}"** (target: p95 <= 2000)`,
        shown,
        `${SHOWN_CHANGES} changes at random moments of the ${OVERVIEW_POLL_MS / 1000} s poll; ${notShown} not shown within 10 s; ${pollErrors} poll errors`,
      ),
      row("one overview.get fetch during that run", fetchMs, ""),
      "",
      `### Scoped safe mode -> applied (${replicas.length} replicas)`,
      "",
      "Each activation: core's setSafeMode (MAINTENANCE on one conversation, as the console's safeMode.set), ended again before the next.",
      "",
      "| from commit to | samples | p50 ms | p95 ms | p99 ms | max ms | note |",
      "|---|---:|---:|---:|---:|---:|---|",
      row(
        "**every replica applied the scoped activation** (target: p99 <= 1000, never > 5000)",
        scopedEvery,
        `${scopedTimeouts} switches not applied within 10 s`,
      ),
      "",
    ];
    const out = lines.join("\n");
    writeFileSync(path.join(REPO_ROOT, "bench/console/latest.md"), `${out}\n`);
    console.log(`\n${out}`);
  } finally {
    clearInterval(sampleLoad);
    await Promise.all(
      replicas.map(
        (r) =>
          new Promise<void>((resolve) => {
            if (r.proc.exitCode !== null) return resolve();
            r.proc.once("exit", () => resolve());
            r.proc.send("stop");
            setTimeout(() => r.proc.kill("SIGKILL"), 5_000).unref();
          }),
      ),
    );
    if (consoleProc) await bench.stop(consoleProc);
    bench.close();
    await oidc.close();
    await db.$disconnect();
    await tdb.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

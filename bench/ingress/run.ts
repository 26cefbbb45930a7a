/**
 * Ingress benchmark: acknowledgement latency and throughput of `POST /dingtalk/robot` against
 * the floor (floor.ts: bare node:http doing the same one-row insert), both measured in this run,
 * on the same fresh database, at fixed request rates and at saturation.
 *
 *   npm run bench:ingress              (DATABASE_URL optional: embedded PostgreSQL otherwise)
 *   BENCH_DURATION=20 npm run bench:ingress
 *   BENCH_ENCRYPTION=off npm run bench:ingress   (payloads stored in clear; default: encrypted)
 *
 * Client latencies come from autocannon on the same machine (they include the client's own
 * overhead); server latencies from the runtime's request histogram (/metrics, scraped before and
 * after each row; quantiles interpolated within buckets, the 5 ms and 25 ms shares exact, since
 * those are bucket bounds). The DESIGN targets are server side. Fixed-rate runs correct for
 * coordinated omission (autocannon's default). Every request carries a fresh msgId and a valid
 * signature, so the runtime does its full work: verify, size cap, zod, insert + enqueue, ack.
 */
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import pg from "pg";
import { newDataKey } from "@clawgate/db";
import { robotSign } from "@clawgate/dingtalk";
import { REPO_ROOT } from "@clawgate/devstack/paths";
import { startProcess, waitReady } from "../lib/processes.ts";
import { benchDatabase } from "../lib/database.ts";
import { ackBuckets, BENCH_METRICS_ENV, robotMessage, serverSide, type ServerSide } from "../lib/ack.ts";

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
// 0 = saturation (no rate limit). BENCH_RATES=0 runs saturation only, e.g. while tuning.
const RATES = (process.env.BENCH_RATES ?? "100,300,1000,0").split(",").map(Number);
const APP_KEY = "dingbenchappkey";
const APP_SECRET = randomBytes(24).toString("base64url");
// Field encryption at rest on by default (a fresh key): the runtime seals every payload it stores.
const ENCRYPTION = process.env.BENCH_ENCRYPTION !== "off";
const FLOOR_PORT = 18099;
const RUNTIME_PORT = 18080;

interface Row {
  target: string;
  rate: string;
  rps: number;
  p50: number;
  p99: number;
  /** Server-side, from the runtime's own histogram (runtime rows only). */
  server?: ServerSide;
  max: number;
  non2xx: number;
  errors: number;
}

async function measure(target: string, url: string, rate: number, seconds: number): Promise<Row> {
  const metricsUrl = target === "runtime" ? new URL("/metrics", url).toString() : undefined;
  const before = metricsUrl ? await ackBuckets(metricsUrl) : undefined;
  let signedAt = 0;
  let headers: Record<string, string> = {};
  let seq = 0;
  const run = prefix();
  const result = await autocannon({
    url,
    method: "POST",
    connections: rate === 0 ? 64 : Math.min(64, Math.max(8, Math.ceil(rate / 20))),
    ...(rate ? { overallRate: rate } : {}),
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
          return { ...req, headers, body: JSON.stringify(robotMessage(`${run}-${seq++}`, APP_KEY)) };
        },
      },
    ],
  });
  const server = metricsUrl && before ? serverSide(before, await ackBuckets(metricsUrl)) : undefined;
  return {
    target,
    server,
    rate: rate ? `${rate}/s` : "saturation",
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

function prefix(): string {
  return randomBytes(4).toString("hex");
}

function table(rows: Row[]): string {
  const floorSat = rows.find((r) => r.target === "floor" && r.rate === "saturation")?.rps ?? 0;
  const lines = [
    "| target | offered | achieved req/s | client p50 ms | client p99 ms | max ms | server p50 ms | server p99 ms | acks <= 5 ms | acks <= 25 ms | non-2xx | errors | vs floor (req/s) |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    const ratio = r.rate === "saturation" && floorSat ? `${(r.rps / floorSat).toFixed(2)}x` : "";
    const srv = r.server
      ? `${r.server.p50.toFixed(1)} | ${r.server.p99.toFixed(1)} | ${(r.server.within5 * 100).toFixed(1)}% | ${(r.server.within25 * 100).toFixed(2)}%`
      : "| | |";
    lines.push(
      `| ${r.target} | ${r.rate} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(0)} | ${srv} | ${r.non2xx} | ${r.errors} | ${ratio} |`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const db = await benchDatabase("clawgate_bench");
  const children: ChildProcess[] = [];
  try {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const pgVersion = ((await client.query("SHOW server_version")).rows[0] as { server_version: string })
      .server_version;
    await client.end();

    children.push(
      await startProcess(
        "floor",
        ["--import", "tsx", "bench/ingress/floor.ts", String(FLOOR_PORT)],
        { DATABASE_URL: db.url },
        /READY/,
      ),
    );
    children.push(
      await startProcess(
        "runtime",
        ["apps/bot/bin/clawgate.mjs", "serve"],
        {
          DATABASE_URL: db.url,
          PORT: String(RUNTIME_PORT),
          HOST: "127.0.0.1",
          LOG_LEVEL: "warn",
          DINGTALK_MODE: "http",
          DINGTALK_APP_KEY: APP_KEY,
          DINGTALK_APP_SECRET: APP_SECRET,
          // Replies would go to DingTalk's own host: keep the worker from sending during the run.
          WORKER_CONCURRENCY: "0",
          ...BENCH_METRICS_ENV,
          ...(ENCRYPTION ? { CLAWGATE_DATA_KEYS: newDataKey("bench") } : {}),
        },
        // LOG_LEVEL=warn hides the "listening" line: the /ready probe below waits instead.
        null,
      ),
    );
    await waitReady(`http://127.0.0.1:${RUNTIME_PORT}/ready`);

    const rows: Row[] = [];
    for (const rate of RATES) {
      for (const [target, url] of [
        ["floor", `http://127.0.0.1:${FLOOR_PORT}/`],
        ["runtime", `http://127.0.0.1:${RUNTIME_PORT}/dingtalk/robot`],
      ] as const) {
        await measure(target, url, rate || 200, 2); // warm-up, not reported
        const row = await measure(target, url, rate, DURATION);
        rows.push(row);
        console.log(
          `${target.padEnd(8)} ${row.rate.padEnd(10)} ${row.rps.toFixed(0).padStart(6)} req/s  p50 ${row.p50} ms  p99 ${row.p99} ms  non-2xx ${row.non2xx}`,
        );
      }
    }
    const cpu = os.cpus()[0]?.model ?? "unknown CPU";
    const header = `Machine: ${os.cpus().length} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, PostgreSQL ${pgVersion} on 127.0.0.1. Date: ${new Date().toISOString().slice(0, 10)}. ${DURATION} s per row after a 2 s warm-up; client: autocannon on the same machine. Field encryption: ${ENCRYPTION ? "on (runtime payloads AES-256-GCM)" : "off"}; load average before the run: ${os.loadavg()[0]!.toFixed(2)}.`;
    const out = `${header}\n\n${table(rows)}\n`;
    writeFileSync(path.join(REPO_ROOT, "bench/ingress/latest.md"), out);
    console.log(`\n${out}`);
  } finally {
    for (const c of children) c.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 500));
    await db.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

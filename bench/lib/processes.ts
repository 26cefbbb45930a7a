/** Child processes the benchmarks measure against: started from the repo root, awaited until ready. */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO_ROOT } from "@clawgate/devstack/paths";
import { BENCH_METRICS_ENV } from "./ack.ts";

/** `ready`: a line the process prints when it listens, or null to rely on a readiness probe. */
export function startProcess(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp | null,
): Promise<ChildProcess> {
  const proc = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    if (!ready) resolve(proc);
    let out = "";
    const onData = (d: Buffer) => {
      out += d;
      if (ready?.test(out)) resolve(proc);
    };
    proc.stdout?.on("data", onData);
    proc.stderr?.on("data", onData);
    proc.on("exit", (code) => reject(new Error(`${name} exited (${code}):\n${out.slice(-2000)}`)));
  });
}

/** Up to `timeoutMs` (default 120 s: three replicas starting on a busy 2-core machine take a while). */
export async function waitReady(url: string, timeoutMs = 120_000): Promise<void> {
  for (const until = Date.now() + timeoutMs; Date.now() < until;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not ready: ${url}`);
}

/** The demo model in its own process (bench/agent/model-server.ts) with a fixed latency before every answer. */
export async function startBenchModel(port: number, latencyMs: number): Promise<{ proc: ChildProcess; url: string }> {
  const proc = await startProcess(
    "demo model",
    ["--import", "tsx", "bench/agent/model-server.ts", String(port), String(latencyMs)],
    {},
    /READY /,
  );
  return { proc, url: `http://127.0.0.1:${port}/v1` };
}

export const pct = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
export const sorted = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);

/** `clawgate serve` in HTTP mode on 127.0.0.1:port, replying to a fake DingTalk at `fakeUrl`; not awaited ready. */
export function startRuntime(opts: {
  databaseUrl: string;
  port: number;
  fakeUrl: string;
  appKey: string;
  appSecret: string;
  workers: number;
  env?: Record<string, string>;
}): Promise<ChildProcess> {
  return startProcess(
    "runtime",
    ["apps/bot/bin/clawgate.mjs", "serve"],
    {
      DATABASE_URL: opts.databaseUrl,
      PORT: String(opts.port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      DINGTALK_MODE: "http",
      DINGTALK_APP_KEY: opts.appKey,
      DINGTALK_APP_SECRET: opts.appSecret,
      DINGTALK_API_BASE: opts.fakeUrl,
      DINGTALK_WEBHOOK_HOSTS: new URL(opts.fakeUrl).host,
      WORKER_CONCURRENCY: String(opts.workers),
      ...BENCH_METRICS_ENV,
      ...opts.env,
    },
    null,
  );
}

/** Limits raised so a benchmark measures the queue, not DingTalk's send limits or "working on it" messages. */
export const UNTHROTTLED = {
  OUTBOUND_ROBOT_PER_SECOND: "100000",
  OUTBOUND_CONVERSATION_PER_MINUTE: "100000",
  AGENT_WORKING_ON_IT_MS: "60000",
};

/** Prints a benchmark's result under the machine and date, and writes it to bench/<name>/latest.md. */
export function report(name: string, lines: string[]): void {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const header = `Machine: ${os.cpus().length} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")} at the end. Date: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC.`;
  const out = `${header}\n\n${lines.join("\n")}\n`;
  writeFileSync(path.join(REPO_ROOT, `bench/${name}/latest.md`), out);
  console.log(`\n${out}`);
}

/** Child processes the benchmarks measure against: started from the repo root, awaited until ready. */
import { spawn, type ChildProcess } from "node:child_process";
import { REPO_ROOT } from "../../packages/devstack/src/paths.ts";

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

export async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
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

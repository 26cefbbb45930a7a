/** Helpers for tests that run the real `clawgate` CLI as a child process. */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer as createHttpServer } from "node:http";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import path from "node:path";
import { Writable } from "node:stream";
import pg from "pg";
import { createLogger } from "../src/logger.ts";

export const BIN = path.resolve(import.meta.dirname, "../bin/clawgate.mjs");

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** The parent's env without anything the runtime reads, plus the given values. */
export function cliEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) =>
        !/^(DINGTALK_|LOCAL_MODEL_|PORT$|HOST$|LOG_LEVEL$|METRICS_|DATABASE_URL$|SECRET_ENV_ALLOWLIST$|SKILL_SECRET_ENV_ALLOWLIST$|MODEL_BASE_URL_ALLOWLIST$|CLAWGATE_DATA_KEYS$)/.test(
          k,
        ),
    ),
  );
  return { ...base, ...vars };
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  output(): { stdout: string; stderr: string };
  exited: Promise<CliRun>;
}

export function startCli(args: string[], env: NodeJS.ProcessEnv): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d));
  child.stderr.on("data", (d: Buffer) => (stderr += d));
  const exited = new Promise<CliRun>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, output: () => ({ stdout, stderr }), exited };
}

export async function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliRun> {
  const cli = startCli(args, env);
  const timer = setTimeout(() => cli.child.kill("SIGKILL"), timeoutMs);
  try {
    return await cli.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Kills a child that a failed test left running. */
export async function killChild(cli: CliProcess | undefined): Promise<void> {
  if (!cli || cli.child.exitCode !== null || cli.child.signalCode !== null) return;
  cli.child.kill("SIGKILL");
  await cli.exited.catch(() => {});
}

export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

/**
 * `clawgate serve` on 127.0.0.1 (`vars.PORT`, else a free port), returned once `path` answers 200
 * (/ready: database, migrations, queue; /healthz: the process is up). `running` collects the
 * process for the test's afterEach to kill; a serve that exits or never gets there is killed and
 * the error carries its output.
 */
export async function startServe(
  vars: Record<string, string>,
  { path = "/ready", timeoutMs = 30_000, running }: { path?: string; timeoutMs?: number; running?: CliProcess[] } = {},
): Promise<{ cli: CliProcess; base: string; metricsBase: string }> {
  const port = vars.PORT ? Number(vars.PORT) : await freePort();
  // Its own free port for the metrics listener too: test runtimes run side by side.
  const metricsPort = vars.METRICS_PORT ?? String(await freePort());
  const cli = startCli(
    ["serve"],
    cliEnv({ HOST: "127.0.0.1", LOG_LEVEL: "warn", ...vars, PORT: String(port), METRICS_PORT: metricsPort }),
  );
  running?.push(cli);
  const base = `http://127.0.0.1:${port}`;
  const metricsBase = `http://${vars.METRICS_HOST ?? "127.0.0.1"}:${metricsPort}`;
  try {
    await waitFor(
      async () => {
        if (cli.child.exitCode !== null) throw new Error(`serve exited: ${JSON.stringify(cli.output())}`);
        const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5_000) });
        return res.status === 200 || undefined;
      },
      timeoutMs,
      `${base}${path}`,
    );
  } catch (error) {
    await killChild(cli);
    throw error;
  }
  return { cli, base, metricsBase };
}

export async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/** An address where nothing listens: connections are refused at once. */
export const UNREACHABLE_DB = "postgresql://postgres@127.0.0.1:1/clawgate";

/** A "database" that accepts TCP connections and never says a word (a stalled server). */
export async function startBlackhole(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/clawgate`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * A real OpenAI-compatible stub for `doctor`'s probe: GET /v1/models answers 200 with the bearer
 * `key`, 401 otherwise. Every request's path and Authorization header is recorded.
 */
export async function startModelsStub(key: string) {
  const requests: { url: string; authorization: string | undefined }[] = [];
  const server = createHttpServer((req, res) => {
    requests.push({ url: req.url ?? "", authorization: req.headers.authorization });
    const ok = req.url === "/v1/models" && req.headers.authorization === `Bearer ${key}`;
    res.writeHead(ok ? 200 : 401, { "content-type": "application/json" }).end('{"data":[]}');
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A logger whose JSON lines the test can read. */
export function capturedLogger(level = "info") {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split("\n").filter(Boolean))
        lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger(level, sink), lines };
}

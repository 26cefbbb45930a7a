/**
 * `npm start`: the whole product on this machine, in one command.
 *
 * - PostgreSQL: DATABASE_URL when given, else an embedded PostgreSQL under .data/pg (reused
 *   by the next start).
 * - Committed migrations applied, demo data seeded (idempotent).
 * - The local OpenID Connect provider with a demo user per role (SSO from day one).
 * - The fake DingTalk on :3200 (fake-dingtalk-server.ts): it posts robot messages to the runtime
 *   and takes its replies; `npx clawgate say --conversation demo "hello"` talks through it.
 * - The bot runtime (`clawgate serve`) on :8080 and the console on :3000 (built once; turbo
 *   caches the build, so later starts skip it).
 * Ctrl-C, or SIGTERM/SIGINT to npm itself, stops everything; the data stays.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync, mkdirSync, createWriteStream } from "node:fs";
import net from "node:net";
import path from "node:path";
import { applyOnboard, parseOnboardConfig, seedDemo, seedDemoMcp, DEMO_USERS, DEMO_PASSWORD } from "@clawgate/core";
import { createDb, newDataKey, parseKeyRing } from "@clawgate/db";
import { deployMigrations } from "@clawgate/db/migrations";
import { ensureDatabase } from "./pg-admin.ts";
import { DATA_DIR, REPO_ROOT } from "./paths.ts";
import { DEMO_OIDC_CLIENT, PORTS } from "./ports.ts";
import { onStopRequest } from "./stop-signals.ts";
import { withDatabase } from "./testdb.ts";

/** The demo MCP server's bearer token (a demo value, like the demo model key). */
const DEMO_MCP_TOKEN = "demo-mcp-token";
const children: { name: string; proc: ChildProcess }[] = [];
let embeddedPg: ChildProcess | undefined;
let stopping = false;

function log(line: string): void {
  console.log(`[clawgate] ${line}`);
}

/** Secrets of the local demo, generated once and kept in .data (git-ignored). */
const DEMO_APPROVALS_YAML = `
users:
  - { email: approver@clawgate.local, role: approver, dingtalk: { user_id: demo-approver } }
  - { email: admin@clawgate.local, role: admin, dingtalk: { user_id: demo-admin } }
flags:
  approvals.dingtalk_cards: on
approvals:
  card_template_id: clawgate-approval-demo
  approver_chats: [cid-demo-approvers]
  escalation_chat: cid-demo-group
  escalate_after_minutes: 10
`;

function localSecrets(): { nextAuthSecret: string; dingtalkAppSecret: string; cardCallbackSecret: string } {
  const file = path.join(DATA_DIR, "local-secrets.json");
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, "utf8")) as { nextAuthSecret: string; dingtalkAppSecret: string };
    // Files written before approval cards: the card secret is derived, stable per install.
    return { cardCallbackSecret: `${stored.dingtalkAppSecret}-cards`, ...stored };
  }
  mkdirSync(DATA_DIR, { recursive: true });
  const secrets = {
    nextAuthSecret: randomBytes(32).toString("base64url"),
    dingtalkAppSecret: randomBytes(24).toString("base64url"),
    cardCallbackSecret: randomBytes(24).toString("base64url"),
  };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

/** The audit checkpoints' signing key (CLAWGATE_AUDIT_SIGNING_KEY), in its own file so the CLI can read it. */
function auditSigningKey(): string {
  const file = path.join(DATA_DIR, "audit-signing-key");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(DATA_DIR, { recursive: true });
  const key = randomBytes(32).toString("base64url");
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

/**
 * The demo's data key ring (CLAWGATE_DATA_KEYS): one key generated on the first start into
 * .data/data-keys (mode 0600), kept across starts. A key appended to the file (`clawgate keys new`)
 * becomes the newest at the next start; `clawgate keys rotate` then re-encrypts under it.
 */
function demoDataKeys(): string {
  const file = path.join(DATA_DIR, "data-keys");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(DATA_DIR, { recursive: true });
  const ring = newDataKey("demo1");
  writeFileSync(file, `${ring}\n`, { mode: 0o600 });
  return ring;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

function startChild(
  name: string,
  cmd: string,
  args: string[],
  opts: { cwd?: string; env: NodeJS.ProcessEnv },
): ChildProcess {
  const proc = spawn(cmd, args, { cwd: opts.cwd ?? REPO_ROOT, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
  const logFile = createWriteStream(path.join(DATA_DIR, `${name}.log`), { flags: "a" });
  const prefix = `[${name}] `;
  for (const stream of [proc.stdout, proc.stderr]) {
    stream?.on("data", (chunk: Buffer) => {
      logFile.write(chunk);
      if (process.env.CLAWGATE_VERBOSE) process.stdout.write(chunk.toString().replace(/^(?=.)/gm, prefix));
    });
  }
  proc.on("exit", (code, signal) => {
    if (!stopping) {
      log(`${name} exited (${signal ?? code}); see .data/${name}.log. Stopping.`);
      void shutdown(1);
    }
  });
  children.push({ name, proc });
  return proc;
}

async function waitFor(
  url: string,
  name: string,
  timeoutMs: number,
  headers: Record<string, string> = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (stopping) return;
    try {
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${name} did not become ready at ${url} within ${timeoutMs / 1000}s; see .data/${name}.log`);
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { cwd: REPO_ROOT, env, stdio: "inherit" });
    proc.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} failed (exit ${code})`)),
    );
  });
}

/**
 * Starts pg-server.ts in its own process group, so a Ctrl-C in the terminal reaches the apps but
 * not the database: we stop it ourselves after the apps have exited.
 */
function startEmbeddedPg(): Promise<string> {
  const proc = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      path.join(import.meta.dirname, "pg-server.ts"),
      path.join(DATA_DIR, "pg"),
      String(PORTS.embeddedPgDev),
      path.join(DATA_DIR, "postgres.log"),
    ],
    { cwd: REPO_ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  embeddedPg = proc;
  return new Promise((resolve, reject) => {
    let out = "";
    proc.stdout?.on("data", (d: Buffer) => {
      out += d;
      const ready = /^READY (\S+)$/m.exec(out);
      if (ready?.[1]) resolve(ready[1]);
    });
    proc.stderr?.on("data", (d: Buffer) => (out += d));
    proc.on("exit", (code) => reject(new Error(`embedded PostgreSQL did not start (exit ${code}):\n${out.trim()}`)));
  });
}

/**
 * Stops the apps, then the database. Idempotent: a Ctrl-C usually arrives twice (the terminal
 * signals the process group and npm forwards it again), and both calls wait for the same stop.
 */
let stopped: Promise<never> | undefined;
function shutdown(code: number): Promise<never> {
  stopped ??= stopEverything(code);
  return stopped;
}

async function stopEverything(code: number): Promise<never> {
  stopping = true;
  log("stopping…");
  for (const { proc } of children) if (proc.exitCode === null) proc.kill("SIGTERM");
  const deadline = Date.now() + 10_000;
  while (children.some(({ proc }) => proc.exitCode === null && proc.signalCode === null) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const { proc } of children) if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
  // The database goes last, once nothing uses it any more.
  if (embeddedPg && embeddedPg.exitCode === null) {
    const exited = new Promise((r) => embeddedPg!.once("exit", r));
    embeddedPg.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  }
  log("stopped. Data kept in .data/ (delete it for a fresh start).");
  process.exit(code);
}

async function main(): Promise<void> {
  onStopRequest(() => void shutdown(0));
  mkdirSync(DATA_DIR, { recursive: true });

  for (const [name, port] of [
    ["console", PORTS.console],
    ["runtime", PORTS.runtime],
    ["oidc", PORTS.oidc],
    ["fake-dingtalk", PORTS.fakeDingtalk],
    ["demo-model", PORTS.demoModel],
    ["internal-api", PORTS.fakeInternalApi],
    ["demo-mcp", PORTS.demoMcp],
  ] as const) {
    if (!(await portFree(port)))
      throw new Error(`port ${port} (${name}) is in use: stop whatever listens there, or a previous npm start`);
  }

  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    log(`starting embedded PostgreSQL on 127.0.0.1:${PORTS.embeddedPgDev} (data in .data/pg)`);
    const serverUrl = await startEmbeddedPg();
    await ensureDatabase(serverUrl, "clawgate");
    databaseUrl = withDatabase(serverUrl, "clawgate");
  }
  // For CLI commands that write the database directly (safe-mode, send, onboard): readable by
  // this user only, like the local secrets next to it.
  writeFileSync(path.join(DATA_DIR, "database-url"), `${databaseUrl}\n`, { mode: 0o600 });

  log("applying migrations");
  await deployMigrations(databaseUrl);
  const dataKeys = demoDataKeys();
  const db = createDb(databaseUrl, { max: 2, dataKeys: parseKeyRing(dataKeys) });
  const internalApiUrl = `http://127.0.0.1:${PORTS.fakeInternalApi}`;
  const demoMcpUrl = `http://127.0.0.1:${PORTS.demoMcp}/mcp`;
  const seeded = await seedDemo(db, {
    modelBaseUrl: `http://127.0.0.1:${PORTS.demoModel}/v1`,
    internalApiBaseUrl: internalApiUrl,
  });
  if (Object.keys(seeded.created).length > 0) {
    // Approve in chat, the way a real install configures it (`clawgate onboard`): approval cards
    // in the demo approvers' chat, and the demo approver's and admin's DingTalk identities.
    await applyOnboard(db, parseOnboardConfig(DEMO_APPROVALS_YAML));
  }
  await db.$disconnect();
  log(Object.keys(seeded.created).length ? "demo data seeded" : "demo data already present");

  const secrets = localSecrets();
  const baseEnv: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    // Chat content is stored encrypted under the demo's own key (.data/data-keys).
    CLAWGATE_DATA_KEYS: dataKeys,
    NEXT_TELEMETRY_DISABLED: "1",
    TURBO_TELEMETRY_DISABLED: "1",
  };
  const issuer = `http://localhost:${PORTS.oidc}`;
  const consoleUrl = `http://localhost:${PORTS.console}`;
  const fakeDingtalkUrl = `http://127.0.0.1:${PORTS.fakeDingtalk}`;
  const modelUrl = `http://127.0.0.1:${PORTS.demoModel}/v1`;
  const dingtalkApp = { DINGTALK_APP_KEY: "dingdemoappkey", DINGTALK_APP_SECRET: secrets.dingtalkAppSecret };

  log("building the console (cached after the first start)");
  await run("npx", ["turbo", "run", "build", "--filter=@clawgate/console", "--output-logs=errors-only"], baseEnv);

  startChild("oidc", process.execPath, ["--import", "tsx", "packages/devstack/src/oidc-server.ts"], {
    env: { ...baseEnv, NEXTAUTH_URL: consoleUrl },
  });
  startChild("fake-dingtalk", process.execPath, ["--import", "tsx", "packages/devstack/src/fake-dingtalk-server.ts"], {
    env: {
      ...baseEnv,
      ...dingtalkApp,
      FAKE_DINGTALK_PORT: String(PORTS.fakeDingtalk),
      FAKE_DINGTALK_CALLBACK_URL: `http://127.0.0.1:${PORTS.runtime}/dingtalk/robot`,
      FAKE_DINGTALK_CARD_CALLBACK_URL: `http://127.0.0.1:${PORTS.runtime}/dingtalk/card`,
      DINGTALK_CARD_CALLBACK_SECRET: secrets.cardCallbackSecret,
    },
  });
  startChild("demo-model", process.execPath, ["--import", "tsx", "packages/devstack/src/demo-model-server.ts"], {
    env: { ...baseEnv, DEMO_MODEL_PORT: String(PORTS.demoModel), LOCAL_MODEL_API_KEY: "demo-local-key" },
  });
  startChild(
    "internal-api",
    process.execPath,
    ["--import", "tsx", "packages/devstack/src/fake-internal-api-server.ts"],
    {
      env: { ...baseEnv, FAKE_INTERNAL_API_PORT: String(PORTS.fakeInternalApi) },
    },
  );
  startChild("demo-mcp", process.execPath, ["--import", "tsx", "packages/devstack/src/demo-mcp-server.ts"], {
    env: { ...baseEnv, DEMO_MCP_PORT: String(PORTS.demoMcp), DEMO_MCP_SERVER_TOKEN: DEMO_MCP_TOKEN },
  });
  startChild("runtime", process.execPath, ["apps/bot/bin/clawgate.mjs", "serve"], {
    env: {
      ...baseEnv,
      // The MCP server's header value, named by its registration (headers: { Authorization: DEMO_MCP_TOKEN }).
      DEMO_MCP_TOKEN: `Bearer ${DEMO_MCP_TOKEN}`,
      PORT: String(PORTS.runtime),
      HOST: "127.0.0.1",
      METRICS_PORT: String(PORTS.runtimeMetrics),
      METRICS_HOST: "127.0.0.1",
      DINGTALK_MODE: "http",
      ...dingtalkApp,
      DINGTALK_API_BASE: fakeDingtalkUrl,
      DINGTALK_WEBHOOK_HOSTS: `127.0.0.1:${PORTS.fakeDingtalk}`,
      LOCAL_MODEL_BASE_URL: `http://127.0.0.1:${PORTS.demoModel}/v1`,
      LOCAL_MODEL_API_KEY: "demo-local-key",
      DINGTALK_CARD_CALLBACK_SECRET: secrets.cardCallbackSecret,
      DINGTALK_CARD_CALLBACK_URL: `http://127.0.0.1:${PORTS.runtime}/dingtalk/card`,
      CLAWGATE_CONSOLE_URL: consoleUrl,
      CLAWGATE_AUDIT_SIGNING_KEY: auditSigningKey(),
    },
  });
  startChild(
    "console",
    process.execPath,
    // Loopback only, as in production (the compose file binds it to 127.0.0.1 too).
    [path.join(REPO_ROOT, "node_modules/next/dist/bin/next"), "start", "-H", "127.0.0.1", "-p", String(PORTS.console)],
    {
      cwd: path.join(REPO_ROOT, "apps/console"),
      env: {
        ...baseEnv,
        NEXTAUTH_URL: consoleUrl,
        NEXTAUTH_SECRET: secrets.nextAuthSecret,
        OIDC_ISSUER: issuer,
        OIDC_CLIENT_ID: DEMO_OIDC_CLIENT.clientId,
        OIDC_CLIENT_SECRET: DEMO_OIDC_CLIENT.clientSecret,
        // "Sign in with DingTalk" through the fake DingTalk's login page (the app is the OAuth client).
        DINGTALK_OAUTH_CLIENT_ID: dingtalkApp.DINGTALK_APP_KEY,
        DINGTALK_OAUTH_CLIENT_SECRET: dingtalkApp.DINGTALK_APP_SECRET,
        DINGTALK_LOGIN_BASE: fakeDingtalkUrl,
        DINGTALK_API_BASE: fakeDingtalkUrl,
      },
    },
  );

  await Promise.all([
    waitFor(`${issuer}/.well-known/openid-configuration`, "oidc", 30_000),
    waitFor(`${fakeDingtalkUrl}/_fake/health`, "fake-dingtalk", 30_000),
    waitFor(`${modelUrl}/models`, "demo-model", 30_000, { authorization: "Bearer demo-local-key" }),
    waitFor(`${internalApiUrl}/_fake/requests`, "internal-api", 30_000),
    waitFor(`${demoMcpUrl.replace(/\/mcp$/, "")}/health`, "demo-mcp", 30_000),
    waitFor(`http://127.0.0.1:${PORTS.runtime}/ready`, "runtime", 60_000),
    waitFor(`${consoleUrl}/api/health`, "console", 60_000),
  ]);

  // The demo MCP server: registered, listed and its tools enabled as an admin would (audited).
  const mcpDb = createDb(databaseUrl, { max: 1, dataKeys: parseKeyRing(dataKeys) });
  try {
    const { sync, enabled } = await seedDemoMcp(mcpDb, {
      url: demoMcpUrl,
      tokenEnv: "DEMO_MCP_TOKEN",
      getSecret: (name) => (name === "DEMO_MCP_TOKEN" ? `Bearer ${DEMO_MCP_TOKEN}` : undefined),
    });
    log(`demo MCP server: ${sync.status}${enabled.length ? `; enabled ${enabled.join(", ")}` : ""}`);
  } finally {
    await mcpDb.$disconnect();
  }

  const users = DEMO_USERS.map((u) => `      ${u.email.padEnd(26)} ${u.role}`).join("\n");
  console.log(`
  Clawgate is running.

    Console          ${consoleUrl}   (sign in with SSO: the local demo identity provider, or with the fake DingTalk)
    Runtime          http://127.0.0.1:${PORTS.runtime}   (/healthz, /ready, /dingtalk/robot, /dingtalk/card)
    Metrics          http://127.0.0.1:${PORTS.runtimeMetrics}/metrics   (Prometheus, loopback only)
    SSO (demo IdP)   ${issuer}
    DingTalk (fake)  ${fakeDingtalkUrl}
    Model (demo)     ${modelUrl}
    KB/tickets API   ${internalApiUrl}   (fake internal systems the skills call)
    MCP server       ${demoMcpUrl}   (demo tools: "look up order A-1001", "open a support ticket: ...")
    Database         ${embeddedPg ? `embedded PostgreSQL, 127.0.0.1:${PORTS.embeddedPgDev} (data in .data/pg)` : "DATABASE_URL"}

  Demo sign-in (password "${DEMO_PASSWORD}"):
${users}

  Talk to the robot: npx clawgate say --conversation demo "hello"
  Approve in chat:   npx clawgate say --conversation demo "create a ticket in OPS: printer jam"
                     npx clawgate click <request id it prints> approve --as demo-approver
  Break glass:       DATABASE_URL=$(cat .data/database-url) npx clawgate safe-mode on --reason "test" --ttl 10m

  Logs are in .data/*.log (CLAWGATE_VERBOSE=1 prints them here). Ctrl-C stops everything.
`);
}

main().catch((error: unknown) => {
  console.error(`[clawgate] ${(error as Error).message}`);
  void shutdown(1);
});

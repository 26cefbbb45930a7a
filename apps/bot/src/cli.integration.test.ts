/**
 * The real `clawgate` CLI as a child process (bin shim -> tsx -> cli.ts) against real
 * PostgreSQL: migrate, serve, seed, doctor, and the env errors that stop it before anything.
 * The tests in "lifecycle" share one database and run in order: migrate, serve, seed, doctor.
 */
import { committedMigrations } from "@clawgate/db/migrations";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  cliEnv,
  freePort,
  killChild,
  query,
  runCli,
  startBlackhole,
  startModelsStub,
  startServe,
  UNREACHABLE_DB,
  waitFor,
  type CliProcess,
} from "../test/helpers.ts";

let serving: CliProcess | undefined;
afterEach(async () => {
  await killChild(serving);
  serving = undefined;
});

const get = (url: string) => fetch(url, { signal: AbortSignal.timeout(5_000) });

/** Starts `clawgate serve` and waits until /healthz answers. */
const serve = async (vars: Record<string, string>) => {
  // info: the lifecycle test reads the "listening" line.
  const served = await startServe({ LOG_LEVEL: "info", ...vars }, { path: "/healthz" });
  serving = served.cli;
  return served;
};

describe("lifecycle on a fresh database", () => {
  let testDb: TestDatabase;
  let model: Awaited<ReturnType<typeof startModelsStub>>;
  let modelBase: string;
  const MODEL_KEY = "sk-local-model-secret-123";

  beforeAll(async () => {
    testDb = await createTestDatabase({ migrate: false, prefix: "clawgate_bot_cli" });
    // A real OpenAI-compatible stub the doctor probes: GET /v1/models with the bearer key.
    model = await startModelsStub(MODEL_KEY);
    modelBase = model.url;
  });
  afterAll(async () => {
    await model?.close();
    await testDb?.drop();
  });

  it("migrate applies the committed migrations, then says it is up to date", async () => {
    const first = await runCli(["migrate"], cliEnv({ DATABASE_URL: testDb.url }));
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`Applied ${committedMigrations().length} migration(s)`);
    for (const m of committedMigrations()) expect(first.stdout).toContain(m);

    // Then bootstrap: the built-in skills and default flags, in one audited config revision.
    expect(first.stdout).toMatch(/Bootstrap: \d+ change\(s\) in config revision 1:/);
    expect(first.stdout).toContain("create skill kb.search");
    expect(first.stdout).toContain("create feature_flag agent.tools");

    const second = await runCli(["migrate"], cliEnv({ DATABASE_URL: testDb.url }));
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("already up to date");
    expect(second.stdout).toContain("Catalog already in line with the code: nothing to change.");
    expect(await query(testDb.url, `SELECT id, "actorType", "actorName" FROM "ConfigRevision"`)).toEqual([
      { id: 1, actorType: "SYSTEM", actorName: "clawgate bootstrap" },
    ]);
  });

  it("serve becomes ready, serves health and metrics, and exits 0 on SIGTERM removing its instance row", async () => {
    const { cli, base, metricsBase } = await serve({ DATABASE_URL: testDb.url });

    const ready = await waitFor(
      async () => ((await get(`${base}/ready`)).status === 200 ? true : undefined),
      20_000,
      "/ready 200",
    );
    expect(ready).toBe(true);
    const body = (await (await get(`${base}/ready`)).json()) as { checks: Record<string, unknown> };
    // A freshly migrated database holds bootstrap's revision; serve's own bootstrap finds nothing to do.
    expect(body.checks.snapshot).toEqual({ ok: true, revision: 1 });
    expect((await get(`${base}/healthz`)).status).toBe(200);
    // Metrics on their own loopback listener only: the internet-facing port has none without a token.
    const metrics = await get(`${metricsBase}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain("clawgate_");
    expect((await get(`${base}/metrics`)).status).toBe(404);

    const rows = await waitFor(
      async () => {
        const r = await query<{ pid: number; mode: string; appliedRevision: number | null }>(
          testDb.url,
          `SELECT pid, mode, "appliedRevision" FROM "RuntimeInstance"`,
        );
        return r.length ? r : undefined;
      },
      10_000,
      "the RuntimeInstance row",
    );
    expect(rows).toEqual([{ pid: cli.child.pid, mode: "http", appliedRevision: 1 }]);

    const logLines = cli.output().stdout.split("\n").filter(Boolean);
    const parsed = logLines.map(
      (l) => JSON.parse(l) as { msg: string; url?: string; metrics?: string; token?: boolean },
    );
    const listening = parsed.find((l) => l.url);
    expect(listening?.url).toBe(base);
    expect(parsed.find((l) => l.metrics)).toMatchObject({ metrics: `${metricsBase}/metrics`, token: false });

    const started = Date.now();
    cli.child.kill("SIGTERM");
    const exit = await cli.exited;
    expect(exit.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await query(testDb.url, `SELECT id FROM "RuntimeInstance"`)).toEqual([]);
  });

  it("seed without --demo exits 2; seed --demo loads the demo data", async () => {
    const bare = await runCli(["seed"], cliEnv({ DATABASE_URL: testDb.url }));
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("--demo");

    const demo = await runCli(
      ["seed", "--demo"],
      cliEnv({ DATABASE_URL: testDb.url, LOCAL_MODEL_BASE_URL: modelBase }),
    );
    expect(demo.stderr).toBe("");
    expect(demo.code).toBe(0);
    expect(demo.stdout).toContain("Demo data seeded");
    const endpoints = await query<{ baseUrl: string }>(testDb.url, `SELECT "baseUrl" FROM "ModelEndpoint"`);
    expect(endpoints).toEqual([{ baseUrl: modelBase }]);
  });

  it("doctor passes database and migrations, fails missing DingTalk credentials, exits 1", async () => {
    const run = await runCli(
      ["doctor"],
      cliEnv({ DATABASE_URL: testDb.url, LOCAL_MODEL_BASE_URL: modelBase, LOCAL_MODEL_API_KEY: MODEL_KEY }),
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("✓ environment valid");
    expect(run.stdout).toContain("✓ database reachable");
    expect(run.stdout).toContain("✓ migrations applied");
    expect(run.stdout).toMatch(
      /✗ DingTalk credentials present[^\n]*\n\s+not set: DINGTALK_APP_KEY, DINGTALK_APP_SECRET\n\s+fix: /,
    );
    // The seeded endpoint (read from the database) answers with the key from LOCAL_MODEL_API_KEY.
    expect(run.stdout).toContain(`✓ model endpoint local_chat reachable (${modelBase})`);
    expect(run.stdout + run.stderr).not.toContain(MODEL_KEY);
  });

  it("keys status and rotate: counts per key, re-encrypts what is not under the newest key, audited; keys new", async () => {
    const made = await runCli(["keys", "new", "--id", "k9"], cliEnv({}));
    expect(made.code).toBe(0);
    expect(made.stdout.trim()).toMatch(/^k9:[A-Za-z0-9+/]{43}=$/);
    expect((await runCli(["keys", "new"], cliEnv({}))).code).toBe(2);

    const ring = made.stdout.trim();
    // A message stored before encryption was on (in clear): rotate encrypts it under k9.
    await query(
      testDb.url,
      `INSERT INTO "InboundMessage" ("id", "robotCode", "msgId", "channel", "conversationId", "senderId", "msgType", "payload", "traceId")
       VALUES ('cli-keys', 'r', 'cli-keys', 'HTTP', 'c', 's', 'text', '{"text":{"content":"in clear"}}', 't')`,
    );
    const vars = { DATABASE_URL: testDb.url, CLAWGATE_DATA_KEYS: ring };
    const before = await runCli(["keys", "status"], cliEnv(vars));
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(/InboundMessage\.payload\s+\(clear\)\s+1/);
    const rotate = await runCli(["keys", "rotate", "--batch", "10"], cliEnv(vars));
    expect(rotate.code).toBe(0);
    expect(rotate.stdout).toContain("Rotated 1 value(s) to key k9.");
    const after = await runCli(["keys", "status"], cliEnv(vars));
    expect(after.stdout).toMatch(/InboundMessage\.payload\s+k9\s+1/);
    const [stored] = await query<{ payload: string }>(
      testDb.url,
      `SELECT "payload"::text AS payload FROM "InboundMessage" WHERE "id" = 'cli-keys'`,
    );
    expect(stored!.payload).not.toContain("in clear");
    const audit = await query<{ action: string }>(
      testDb.url,
      `SELECT "action" FROM "AuditLog" WHERE "targetType" = 'data_keys' ORDER BY "id"`,
    );
    expect(audit.map((a) => a.action)).toEqual(["data_keys.rotate_start", "data_keys.rotate"]);

    // Without the key: status names it and exits 2; a bad ring is refused before anything.
    const missing = await runCli(["keys", "status"], cliEnv({ DATABASE_URL: testDb.url }));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("stored values need key(s) k9");
    const bad = await runCli(["keys", "rotate"], cliEnv({ ...vars, CLAWGATE_DATA_KEYS: "k1:c2hvcnQ=" }));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('CLAWGATE_DATA_KEYS: key "k1" is 5 bytes; AES-256 needs 32');
    await query(testDb.url, `DELETE FROM "InboundMessage" WHERE "id" = 'cli-keys'`);
  });

  it("doctor exits 0 when every check passes and reports a rejected model key", async () => {
    const vars = {
      DATABASE_URL: testDb.url,
      DINGTALK_APP_KEY: "ding-key",
      DINGTALK_APP_SECRET: "ding-secret",
      LOCAL_MODEL_API_KEY: MODEL_KEY,
    };
    const pass = await runCli(["doctor"], cliEnv(vars));
    expect(pass.stdout).not.toContain("✗");
    expect(pass.code).toBe(0);

    const wrongKey = await runCli(["doctor"], cliEnv({ ...vars, LOCAL_MODEL_API_KEY: "sk-wrong-key" }));
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stdout).toMatch(/✗ model endpoint local_chat reachable[^\n]*\n\s+HTTP 401 from GET \/models/);
    expect(wrongKey.stdout).not.toContain("sk-wrong-key");
    expect(wrongKey.stdout).not.toContain("ding-secret");
  });
});

describe("with nothing listening at DATABASE_URL", () => {
  it("serve stays up: /healthz 200, /ready 503 fast, SIGTERM exits 0", async () => {
    const { cli, base } = await serve({ DATABASE_URL: UNREACHABLE_DB });
    const started = Date.now();
    const ready = await get(`${base}/ready`);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: { database: { ok: boolean } } }).checks.database.ok).toBe(false);
    expect((await get(`${base}/healthz`)).status).toBe(200);

    cli.child.kill("SIGTERM");
    expect((await cli.exited).code).toBe(0);
    expect(cli.output().stdout).toContain("heartbeat failed");
  });

  it("doctor reports the database failure without crashing", async () => {
    const run = await runCli(["doctor"], cliEnv({ DATABASE_URL: UNREACHABLE_DB }));
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("✓ environment valid");
    expect(run.stdout).toMatch(/✗ database reachable\n\s+Can't reach database server at 127\.0\.0\.1:1\n\s+fix: /);
    expect(run.stdout).toMatch(/✗ migrations applied\n\s+not checked/);
    expect(run.stdout).toMatch(
      /✗ model endpoint reachable\n\s+ModelEndpoint rows not read: database unavailable or not migrated/,
    );
    expect(run.stderr).toBe("");
  });

  it("migrate fails with a one-line reason", async () => {
    const run = await runCli(["migrate"], cliEnv({ DATABASE_URL: UNREACHABLE_DB }));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^clawgate migrate failed: .*ECONNREFUSED/);
    expect(run.stderr).not.toContain("    at ");
  });
});

describe("with a database that accepts connections and never answers", () => {
  it("serve answers /ready 503 fast and still shuts down promptly on SIGTERM", async () => {
    const blackhole = await startBlackhole();
    try {
      const { cli, base } = await serve({ DATABASE_URL: blackhole.url });
      const started = Date.now();
      expect((await get(`${base}/ready`)).status).toBe(503);
      expect(Date.now() - started).toBeLessThan(2_000);

      const stopping = Date.now();
      cli.child.kill("SIGTERM");
      expect((await cli.exited).code).toBe(0);
      expect(Date.now() - stopping).toBeLessThan(7_000);
    } finally {
      await blackhole.close();
    }
  });
});

describe("invalid environment", () => {
  it.each([
    [{ DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/postgres", PORT: "abc" }, /^ {2}PORT: expected an integer/m],
    [{ DATABASE_URL: "nonsense" }, /^ {2}DATABASE_URL: must be a postgresql:\/\/ URL/m],
    [{}, /^ {2}DATABASE_URL: is required/m],
  ])("serve exits 1 naming the variable, before starting anything: %o", async (vars, expected) => {
    const port = await freePort();
    const run = await runCli(["serve"], cliEnv({ HOST: "127.0.0.1", PORT: String(port), ...vars }));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(expected);
    expect(run.stderr).not.toContain("    at ");
    expect(run.stdout).toBe("");
  });

  it("refuses a metrics listener beyond loopback without METRICS_TOKEN", async () => {
    const run = await runCli(
      ["serve"],
      cliEnv({
        DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/postgres",
        PORT: String(await freePort()),
        METRICS_HOST: "0.0.0.0",
      }),
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^ {2}METRICS_HOST=0\.0\.0\.0 serves \/metrics beyond this host: set METRICS_TOKEN/m);
  });

  it("serve refuses to start in production without CLAWGATE_DATA_KEYS, naming it", async () => {
    const run = await runCli(
      ["serve"],
      cliEnv({
        DATABASE_URL: UNREACHABLE_DB,
        HOST: "127.0.0.1",
        PORT: String(await freePort()),
        NODE_ENV: "production",
      }),
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("CLAWGATE_DATA_KEYS is not set");
  });

  it("reports every bad variable, one line each", async () => {
    const run = await runCli(["serve"], cliEnv({ DATABASE_URL: "nonsense", PORT: "70000", DINGTALK_MODE: "ws" }));
    expect(run.code).toBe(1);
    expect(run.stderr.split("\n").filter((l) => l.startsWith("  "))).toEqual([
      "  DATABASE_URL: must be a postgresql:// URL (postgresql://user:password@host:5432/database)",
      '  PORT: expected an integer between 1 and 65535, got "70000"',
      '  DINGTALK_MODE: expected one of http, stream, got "ws"',
    ]);
  });

  it("migrate checks only DATABASE_URL", async () => {
    const run = await runCli(["migrate"], cliEnv({ DATABASE_URL: "nonsense", PORT: "abc" }));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("DATABASE_URL:");
    expect(run.stderr).not.toContain("PORT");
  });
});

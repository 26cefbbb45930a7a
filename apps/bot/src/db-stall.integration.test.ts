/**
 * A stalled PostgreSQL (every process of its cluster SIGSTOPped: sockets open, nothing answers):
 * every callback gets its 503 within 1 s, so DingTalk retries soon, and once the cluster resumes
 * messages are stored again with no manual step. The test runs its own cluster: never the shared one.
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { startEmbeddedPostgres, type EmbeddedPg } from "@clawgate/devstack/embedded-pg";
import { createTestDatabase } from "@clawgate/devstack/testdb";
import { afterAll, expect, it } from "vitest";
import { APP_KEY, APP_SECRET, robotMessage, signedHeaders } from "../test/dingtalk.ts";
import { freePort, killChild, startServe, waitFor, type CliProcess } from "../test/helpers.ts";

let pgDir: string | undefined;
let cluster: EmbeddedPg | undefined;
let stalled = false;
let serving: CliProcess | undefined;
afterAll(async () => {
  if (stalled) cluster?.signal("SIGCONT");
  await killChild(serving);
  await cluster?.stop().catch(() => {});
  if (pgDir) await rm(pgDir, { recursive: true, force: true });
});

it(
  "answers 503 within 1 s while the database is stalled, and stores again once it resumes",
  { timeout: 180_000 },
  async () => {
    pgDir = await mkdtemp(path.join(tmpdir(), "clawgate-pg-stall-"));
    await chmod(pgDir, 0o755); // as root, the cluster runs as `postgres`, which must enter it
    cluster = await startEmbeddedPostgres({ dataDir: path.join(pgDir, "data"), port: await freePort() });
    const testDb = await createTestDatabase({ serverUrl: cluster.serverUrl, prefix: "clawgate_bot_stall" });
    const served = await startServe(
      { DATABASE_URL: testDb.url, DINGTALK_APP_KEY: APP_KEY, DINGTALK_APP_SECRET: APP_SECRET },
      { timeoutMs: 60_000 },
    );
    serving = served.cli;
    const { base } = served;
    const post = async () => {
      const started = performance.now();
      const res = await fetch(`${base}/dingtalk/robot`, {
        method: "POST",
        headers: signedHeaders(),
        body: JSON.stringify(robotMessage({})),
        signal: AbortSignal.timeout(10_000),
      });
      return { status: res.status, ms: performance.now() - started };
    };
    // Warm: the ingress pool holds open connections, which the stall leaves hanging.
    for (let i = 0; i < 5; i++) expect((await post()).status).toBe(200);

    cluster.signal("SIGSTOP");
    stalled = true;
    const answers = [];
    // A burst (the batches in flight hang, the rest wait behind them), then one at a time.
    answers.push(...(await Promise.all(Array.from({ length: 20 }, () => post()))));
    for (let i = 0; i < 8; i++) answers.push(await post());
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 503));
    expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(1_000);

    cluster.signal("SIGCONT");
    stalled = false;
    const resumed = performance.now();
    await waitFor(async () => ((await post()).status === 200 ? true : undefined), 10_000, "a 200 after the resume");
    expect(performance.now() - resumed).toBeLessThan(10_000);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(serving?.child.exitCode, "the runtime survived the stall").toBeNull();
  },
);

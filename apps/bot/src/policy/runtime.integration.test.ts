/**
 * The runtime's policy store outside the message path: `/ready` waits for the first snapshot
 * (retried in the background while the database is away), and the heartbeat row carries the
 * revision the process enforces.
 */
import { createDb } from "@clawgate/db";
import { afterAll, describe, expect, it } from "vitest";
import { query, UNREACHABLE_DB } from "../../test/helpers.ts";
import { setConversation, untilApplied } from "../../test/policy.ts";
import { startHeartbeat } from "../heartbeat.ts";
import { buildServer } from "../server.ts";
import { snapshotCheck, startPolicyRuntime, type PolicyRuntime } from "./runtime.ts";
import { useBotHarness } from "../../test/harness.ts";

const env = { DINGTALK_MODE: "http" as const };

const h = useBotHarness({ name: "policy_rt" });

type ReadyBody = { status: string; checks: Record<string, { ok: boolean; error?: string; revision?: number }> };

describe("/ready and the policy snapshot", () => {
  it("is 503 naming `snapshot` while the store cannot load, and 200 with the revision once it has", async () => {
    const unreachable = createDb(UNREACHABLE_DB, { connectionTimeoutMillis: 500 });
    const stuck = startPolicyRuntime({
      db: unreachable,
      databaseUrl: UNREACHABLE_DB,
      logger: h.logger,
      retryDelayMs: 100,
    });
    const loaded = startPolicyRuntime({ db: h.db, databaseUrl: h.testDb.url, logger: h.logger });
    try {
      // The database itself answers: only the snapshot keeps this server from being ready.
      const notReady = buildServer({
        env,
        db: h.db,
        logger: h.logger,
        extraChecks: { snapshot: snapshotCheck(stuck) },
      });
      const res = await notReady.inject({ url: "/ready" });
      expect(res.statusCode).toBe(503);
      expect(res.json<ReadyBody>().checks).toMatchObject({
        database: { ok: true },
        snapshot: { ok: false, error: "policy snapshot not loaded" },
      });

      const revision = await setConversation(h.db, "cid-ready");
      await loaded.loaded;
      await untilApplied(loaded, revision);
      const ready = buildServer({ env, db: h.db, logger: h.logger, extraChecks: { snapshot: snapshotCheck(loaded) } });
      const ok = await ready.inject({ url: "/ready" });
      expect(ok.statusCode).toBe(200);
      expect(ok.json<ReadyBody>().checks.snapshot).toEqual({ ok: true, revision });
      await Promise.all([notReady.close(), ready.close()]);
    } finally {
      await Promise.all([stuck.stop(), loaded.stop()]);
      await unreachable.$disconnect();
    }
  });
});

describe("the heartbeat", () => {
  let policy: PolicyRuntime;
  afterAll(async () => {
    await policy?.stop();
  });

  it("writes the revision the store enforces, and the new one after a reload", async () => {
    policy = startPolicyRuntime({ db: h.db, databaseUrl: h.testDb.url, logger: h.logger });
    await policy.loaded;
    const hb = startHeartbeat({
      db: h.db,
      logger: h.logger,
      mode: "http",
      intervalMs: 60_000,
      appliedRevision: () => policy.snapshot()?.revision ?? null,
    });
    policy.store.on("reload", () => void hb.beat());
    const applied = async () =>
      (
        await query<{ appliedRevision: number | null }>(
          h.testDb.url,
          `SELECT "appliedRevision" FROM "RuntimeInstance" WHERE id = $1`,
          [hb.id],
        )
      )[0]?.appliedRevision;
    try {
      await expect.poll(applied, { timeout: 3_000 }).toBe(policy.snapshot()!.revision);
      const next = await setConversation(h.db, "cid-heartbeat");
      // The interval is a minute: only the beat on reload can bring the row up to date in time.
      await expect.poll(applied, { timeout: 3_000 }).toBe(next);
    } finally {
      await hb.stop();
    }
  });
});

import { createDb, type Db } from "@clawgate/db";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { recordConfigChange } from "../revision.ts";
import { DEMO_CONVERSATION_ID, seedDemo } from "../seed/demo.ts";
import { decide } from "./decide.ts";
import { LISTENER_APPLICATION_NAME, PolicyStore, type PolicyStoreOptions } from "./store.ts";

let tdb: TestDatabase;
let db: Db;
const stores: PolicyStore[] = [];
const actor = { type: "CLI" as const, name: "policy-test" };
const KB = { kind: "skill", skillKey: "kb.search" } as const;
const ctx = () => ({ conversationId: DEMO_CONVERSATION_ID, userId: "u-1", now: Date.now() });

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = createDb(tdb.url, { max: 4 });
  await seedDemo(db, { modelBaseUrl: "http://127.0.0.1:9/v1" });
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.stop()));
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

async function startStore(opts: Partial<PolicyStoreOptions> = {}): Promise<PolicyStore> {
  const store = new PolicyStore({ db, databaseUrl: tdb.url, ...opts });
  stores.push(store);
  await store.start();
  return store;
}

/** Toggles kb.search in one audited change and returns the revision it committed. */
function toggleKbSearch(enabled: boolean): Promise<number> {
  return db.$transaction(async (tx) => {
    await tx.skill.update({ where: { key: "kb.search" }, data: { enabled } });
    return recordConfigChange(tx, {
      actor,
      action: "skill.update",
      targetType: "skill",
      targetId: "kb.search",
      summary: `kb.search ${enabled}`,
    });
  });
}

function nextReload(store: PolicyStore, timeoutMs: number): Promise<{ revision: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reload within ${timeoutMs} ms`)), timeoutMs);
    store.once("reload", (snap) => {
      clearTimeout(timer);
      resolve({ revision: snap.revision, ms: performance.now() - started });
    });
  });
}

async function terminateListener(): Promise<number> {
  const admin = new pg.Client({ connectionString: tdb.url });
  await admin.connect();
  try {
    const r = await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
      [LISTENER_APPLICATION_NAME],
    );
    return r.rowCount ?? 0;
  } finally {
    await admin.end();
  }
}

describe("PolicyStore", () => {
  it("applies a committed change through NOTIFY (polling out of the way)", async () => {
    const store = await startStore({ pollIntervalMs: 60_000 });
    expect(store.current().revision).toBe(store.revision);
    expect(decide(store.current(), ctx(), KB).outcome).toBe("allow");

    // Far below the 60 s poll, so only NOTIFY can have brought it (how fast: bench/console).
    const reloaded = nextReload(store, 10_000);
    const revision = await toggleKbSearch(false);
    const { revision: applied } = await reloaded;
    expect(applied).toBe(revision);
    expect(decide(store.current(), ctx(), KB).reasons.map((r) => r.code)).toEqual(["skill.disabled"]);
    await toggleKbSearch(true);
  });

  it("picks up a change by polling while the LISTEN connection is gone", async () => {
    const store = await startStore({ pollIntervalMs: 200, reconnectDelayMs: 60_000 });
    const listenErrors: unknown[] = [];
    store.on("listenError", (e) => listenErrors.push(e));
    expect(await terminateListener()).toBe(1);
    // The store notices the dropped connection when its socket closes (sooner or later under load).
    for (let i = 0; i < 200 && listenErrors.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(listenErrors.length).toBeGreaterThan(0);

    const reloaded = nextReload(store, 10_000);
    const revision = await toggleKbSearch(false);
    expect((await reloaded).revision).toBe(revision);
    expect(store.current().skills.get("kb.search")?.enabled).toBe(false);
    await toggleKbSearch(true);
  });

  it("reconnects its LISTEN after the backend is terminated and gets NOTIFYs again", async () => {
    const store = await startStore({ pollIntervalMs: 60_000, reconnectDelayMs: 50 });
    const relistened = new Promise<void>((resolve) => store.once("listening", resolve));
    expect(await terminateListener()).toBe(1);
    await relistened;
    const reloaded = nextReload(store, 10_000);
    const revision = await toggleKbSearch(false);
    expect((await reloaded).revision).toBe(revision);
    await toggleKbSearch(true);
  });

  it("keeps the last good snapshot when a reload fails, and recovers on the next change", async () => {
    const store = await startStore({ pollIntervalMs: 200 });
    const before = store.current();
    const errors: unknown[] = [];
    store.on("reloadError", (e) => errors.push(e));

    // A real failure: the loader's table is gone, so the reload's query errors.
    await db.$executeRawUnsafe(`ALTER TABLE "FeatureFlag" RENAME TO "FeatureFlag_away"`);
    try {
      await toggleKbSearch(false);
      for (let i = 0; i < 200 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect(errors.length).toBeGreaterThan(0);
      expect(store.current()).toBe(before);
      expect(decide(store.current(), ctx(), KB).outcome).toBe("allow");
    } finally {
      await db.$executeRawUnsafe(`ALTER TABLE "FeatureFlag_away" RENAME TO "FeatureFlag"`);
    }
    // The revision is still ahead of the store: the poll retries without a new NOTIFY.
    const { revision } = await nextReload(store, 10_000);
    expect(revision).toBeGreaterThan(before.revision);
    expect(store.current().skills.get("kb.search")?.enabled).toBe(false);
    await toggleKbSearch(true);
  });
});

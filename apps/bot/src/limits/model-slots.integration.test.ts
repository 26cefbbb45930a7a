/**
 * The model concurrency cap against real PostgreSQL, with two pools standing in for two replicas.
 */
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import type pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ModelUnavailableError } from "../agent/model.ts";
import { createPgPool } from "../db-pool.ts";
import { createModelSlots, ModelBusyError } from "./model-slots.ts";

let tdb: TestDatabase;
let poolA: pg.Pool;
let poolB: pg.Pool;
const signal = () => new AbortController().signal;
/** How long a finished call's slot stays with its replica (lingerMs); "all given back" is checked after it. */
const LINGER = 100;
const afterLinger = () => sleep(LINGER + 100);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_slots" });
  // The runtime's own pool factory: every client has an error listener, so dropping the test
  // database (which terminates backends still closing after pool.end()) cannot crash the run.
  const options = { max: 6, connectionTimeoutMillis: 5_000, statementTimeoutMs: 15_000 };
  poolA = createPgPool(tdb.url, { ...options, applicationName: "slots-replica-a" });
  poolB = createPgPool(tdb.url, { ...options, applicationName: "slots-replica-b" });
});
afterAll(async () => {
  await poolA?.end();
  await poolB?.end();
  await tdb?.drop();
});
beforeEach(async () => {
  await poolA.query(`DELETE FROM "ModelLease"`);
});

/** Waits (up to 5 s) until no live lease is left for the endpoint. */
const untilNoLease = async (endpoint: string) => {
  for (const stop = Date.now() + 5_000; Date.now() < stop; await sleep(20)) if ((await leases(endpoint)) === 0) return;
  throw new Error(`a lease of ${endpoint} is still live after 5 s`);
};

const leases = async (endpoint: string) =>
  Number(
    (
      await poolA.query<{ n: string }>(
        `SELECT count(*) AS n FROM "ModelLease" WHERE "endpointName" = $1 AND "expiresAt" > now()`,
        [endpoint],
      )
    ).rows[0]!.n,
  );

describe("model slots", () => {
  it("hold the cap across two replicas, and every call gets its turn", async () => {
    const a = createModelSlots({ pool: poolA, holder: "replica-a", pollMs: 30, lingerMs: LINGER });
    const b = createModelSlots({ pool: poolB, holder: "replica-b", pollMs: 30, lingerMs: LINGER });
    const endpoint = { endpointName: "capped", maxConcurrency: 3, timeoutMs: 5_000 };
    let inFlight = 0;
    let peak = 0;
    const seenInDb: number[] = [];
    const call = async () => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      seenInDb.push(await leases("capped"));
      await sleep(80);
      inFlight -= 1;
      return "done";
    };
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).run(endpoint, signal(), call)),
    );
    expect(results).toEqual(Array(12).fill("done"));
    expect(peak).toBe(3);
    expect(Math.max(...seenInDb)).toBeLessThanOrEqual(3);
    await afterLinger();
    expect(await leases("capped")).toBe(0); // all given back
    // Another endpoint has its own slots.
    expect(await a.run({ endpointName: "other", maxConcurrency: 1 }, signal(), async () => leases("other"))).toBe(1);
    // Names are data, not SQL.
    const odd = `it's "odd"; DROP TABLE "ModelLease"; --`;
    expect(await b.run({ endpointName: odd, maxConcurrency: 1 }, signal(), async () => leases(odd))).toBe(1);
    await afterLinger();
    expect(await leases(odd)).toBe(0);
  });

  it("reclaims the expired leases of a dead replica", async () => {
    await poolA.query(
      `INSERT INTO "ModelLease" ("id", "endpointName", "holder", "expiresAt")
       SELECT 'reclaim#' || g, 'reclaim', 'dead-replica', now() - interval '1 second' FROM generate_series(0, 1) g`,
    );
    const slots = createModelSlots({ pool: poolA, waitMs: 200 });
    // Both slots at once: each call gets one of the dead replica's expired leases, without waiting.
    const both = deferred();
    let running = 0;
    const call = async () => {
      if (++running === 2) both.resolve();
      await Promise.race([both.promise, sleep(1_000)]);
      return running;
    };
    expect(
      await Promise.all([0, 1].map(() => slots.run({ endpointName: "reclaim", maxConcurrency: 2 }, signal(), call))),
    ).toEqual([2, 2]);
    expect((await poolA.query(`SELECT id FROM "ModelLease" WHERE holder = 'dead-replica'`)).rows).toEqual([]);
  });

  it("gives up after the wait limit with a ModelUnavailableError subclass while live leases fill the cap", async () => {
    await poolA.query(
      `INSERT INTO "ModelLease" ("id", "endpointName", "holder", "expiresAt") VALUES ('full#0', 'full', 'replica-x', now() + interval '1 minute')`,
    );
    const slots = createModelSlots({ pool: poolA, waitMs: 300, pollMs: 50 });
    let ran = false;
    const started = Date.now();
    const error = await slots
      .run({ endpointName: "full", maxConcurrency: 1 }, signal(), async () => (ran = true))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelBusyError);
    expect(error).toBeInstanceOf(ModelUnavailableError);
    expect(String(error)).toContain("all 1 slots busy");
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(ran).toBe(false);
    await expect(
      slots.run({ endpointName: "none", maxConcurrency: 0 }, signal(), async () => 1),
    ).rejects.toBeInstanceOf(ModelBusyError);
  });

  it("hands a released slot to a waiter on the same replica at once, and on another replica by polling", async () => {
    const a = createModelSlots({ pool: poolA, pollMs: 60_000, waitMs: 10_000, lingerMs: LINGER });
    const b = createModelSlots({ pool: poolB, pollMs: 50, waitMs: 10_000, lingerMs: LINGER });
    const endpoint = { endpointName: "handoff", maxConcurrency: 1 };
    const hold = deferred();
    const holding = a.run(endpoint, signal(), () => hold.promise);
    await sleep(50);
    const order: string[] = [];
    // This waiter polls only once a minute: only the local wake-up can get it through in time.
    const local = a.run(endpoint, signal(), async () => {
      order.push("local");
      await sleep(100);
    });
    await sleep(150);
    expect(order).toEqual([]);
    const remote = b.run(endpoint, signal(), async () => {
      order.push("remote");
    });
    await sleep(100);
    const released = Date.now();
    hold.resolve();
    await Promise.all([holding, local, remote]);
    expect(Date.now() - released).toBeLessThan(2_000);
    expect(order.sort()).toEqual(["local", "remote"]);
    await afterLinger();
    expect(await leases("handoff")).toBe(0);
  });

  it("stops waiting when the turn is aborted, without running the call", async () => {
    const slots = createModelSlots({ pool: poolA, waitMs: 10_000, pollMs: 50 });
    const endpoint = { endpointName: "abort", maxConcurrency: 1 };
    const hold = deferred();
    const holding = slots.run(endpoint, signal(), () => hold.promise);
    await sleep(50);
    const controller = new AbortController();
    let ran = false;
    const waiting = slots.run(endpoint, controller.signal, async () => (ran = true)).catch((e: unknown) => e);
    setTimeout(() => controller.abort(), 100);
    const error = await waiting;
    expect(error).toBeInstanceOf(ModelBusyError);
    expect(String(error)).toContain("aborted");
    expect(ran).toBe(false);
    hold.resolve();
    await holding;
  });

  it("releases the slot when the call throws, and keeps a long call's lease alive past its first expiry", async () => {
    const a = createModelSlots({ pool: poolA, leaseMarginMs: 100, lingerMs: LINGER });
    const b = createModelSlots({ pool: poolB, waitMs: 100, pollMs: 30, lingerMs: LINGER });
    await expect(
      a.run({ endpointName: "boom", maxConcurrency: 1 }, signal(), async () =>
        Promise.reject(new Error("model exploded")),
      ),
    ).rejects.toThrow("model exploded");
    await afterLinger();
    expect(await leases("boom")).toBe(0);

    // Lease lifetime 300 ms (timeout 200 + margin 100), renewed every 150 ms while the call runs.
    const endpoint = { endpointName: "long", maxConcurrency: 1, timeoutMs: 200 };
    const hold = deferred();
    const holding = a.run(endpoint, signal(), () => hold.promise);
    await sleep(700);
    await expect(b.run(endpoint, signal(), async () => "stolen")).rejects.toBeInstanceOf(ModelBusyError);
    hold.resolve();
    await holding;
    // Given back after the linger; on a loaded machine the give-back itself can take longer than
    // a fixed sleep, so wait for the row to be free (bounded), then the other replica takes it.
    await untilNoLease("long");
    expect(await b.run(endpoint, signal(), async () => "free again")).toBe("free again");
  });

  it("never lets more calls run than a lowered cap, though more slot rows exist; a raised cap adds rows", async () => {
    const a = createModelSlots({ pool: poolA, holder: "replica-a", pollMs: 30, lingerMs: LINGER });
    const b = createModelSlots({ pool: poolB, holder: "replica-b", pollMs: 30, lingerMs: LINGER });
    const peakAt = async (maxConcurrency: number, calls: number) => {
      let inFlight = 0;
      let peak = 0;
      let peakInDb = 0;
      const call = async () => {
        peak = Math.max(peak, ++inFlight);
        peakInDb = Math.max(peakInDb, await leases("resized"));
        await sleep(60);
        inFlight -= 1;
      };
      await Promise.all(
        Array.from({ length: calls }, (_, i) =>
          (i % 2 ? a : b).run({ endpointName: "resized", maxConcurrency }, signal(), call),
        ),
      );
      await afterLinger();
      return { peak, peakInDb };
    };
    const rows = async () =>
      Number(
        (await poolA.query<{ n: string }>(`SELECT count(*) AS n FROM "ModelLease" WHERE "endpointName" = 'resized'`))
          .rows[0]!.n,
      );
    expect(await peakAt(4, 8)).toEqual({ peak: 4, peakInDb: 4 });
    expect(await rows()).toBe(4);
    expect(await peakAt(2, 8)).toEqual({ peak: 2, peakInDb: 2 });
    expect(await peakAt(6, 12)).toEqual({ peak: 6, peakInDb: 6 });
    expect(await rows()).toBe(6);
    expect(await leases("resized")).toBe(0);
  });

  it("does not free a slot that expired and was taken by another replica when the late call ends", async () => {
    const a = createModelSlots({ pool: poolA, lingerMs: 0 });
    const b = createModelSlots({ pool: poolB, waitMs: 150, pollMs: 30 });
    const endpoint = { endpointName: "stale", maxConcurrency: 1 };
    const hold = deferred();
    const holding = a.run(endpoint, signal(), () => hold.promise);
    await sleep(50);
    // As if the lease had expired (a stalled replica) and another replica had taken the slot.
    await poolB.query(
      `UPDATE "ModelLease" SET "holder" = 'replica-b/other', "expiresAt" = now() + interval '1 minute' WHERE "id" = 'stale#0'`,
    );
    hold.resolve();
    await holding;
    expect(await leases("stale")).toBe(1);
    await expect(b.run(endpoint, signal(), async () => "second")).rejects.toBeInstanceOf(ModelBusyError);
  });

  it("keeps a finished call's slot for the replica's next call for lingerMs, then gives it back (at once on close)", async () => {
    const a = createModelSlots({ pool: poolA, holder: "replica-a", lingerMs: 300 });
    const b = createModelSlots({ pool: poolB, holder: "replica-b", pollMs: 30, waitMs: 5_000 });
    const endpoint = { endpointName: "linger", maxConcurrency: 1 };
    const holderNow = async () =>
      (await poolA.query<{ holder: string }>(`SELECT "holder" FROM "ModelLease" WHERE "id" = 'linger#0'`)).rows[0]
        ?.holder;
    await a.run(endpoint, signal(), async () => "first");
    const lease = await holderNow();
    expect(lease).toMatch(/^replica-a\//);
    expect(await leases("linger")).toBe(1); // still leased: kept for the next call
    // The next call of this replica reuses it (the same lease, no new one taken).
    expect(await a.run(endpoint, signal(), async () => holderNow())).toBe(lease);
    // Another replica gets it once the linger has passed.
    const started = Date.now();
    expect(await b.run(endpoint, signal(), async () => holderNow())).toMatch(/^replica-b\//);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    await afterLinger();
    expect(await leases("linger")).toBe(0);
    // close() gives idle slots back without waiting for the linger.
    await a.run(endpoint, signal(), async () => "again");
    expect(await leases("linger")).toBe(1);
    await a.close();
    expect(await leases("linger")).toBe(0);
  });
});

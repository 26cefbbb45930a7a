/**
 * Scoped safe mode across THREE runtime replicas (each its own policy store, LISTEN connection and
 * expiry timer), against real PostgreSQL: an activation made through the console's core function
 * is live on all three within 5 s, applies to its scope only, and reverts at its expiry on all
 * three without anyone acting (the history closes it as expired exactly once). The ops chats are
 * told once per event, however many replicas sweep.
 */
import { bootstrapCatalog, decide, type Actor, type PolicySnapshot } from "@clawgate/core";
import { setKillSwitch, setSafeMode } from "@clawgate/core/safe-mode.ts";
import { afterAll, describe, expect, it } from "vitest";
import { APP_KEY } from "../../test/dingtalk.ts";
import { waitFor } from "../../test/helpers.ts";
import { setConversation } from "../../test/policy.ts";
import { useBotHarness } from "../../test/harness.ts";
import { createAnnouncer } from "../worker/announce.ts";
import { sweepSafeMode } from "../worker/ops-notices.ts";
import { realSenders } from "../worker/queue.ts";
import { createThrottle } from "../worker/throttle.ts";
import { startPolicyRuntime, type PolicyRuntime } from "./runtime.ts";

const OPERATOR: Actor = { type: "USER", id: "u-op", name: "operator@clawgate.local" };

const h = useBotHarness({
  name: "safemode_replicas",
  pool: true,
  fakeDingtalk: true,
  setup: async () => {
    await bootstrapCatalog(h.db);
    await h.db.featureFlag.update({ where: { key: "agent.tools" }, data: { enabled: true } });
    await h.db.skill.update({ where: { key: "ticket.create" }, data: { enabled: true, requiresApproval: false } });
    for (const cid of ["cid-a", "cid-b", "cid-ops"]) await setConversation(h.db, cid);
    await h.db.configSection.create({ data: { key: "ops_chats", value: ["cid-ops"] } });
  },
});

let replicas: PolicyRuntime[] = [];
afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
});

const at = (cid: string, now = Date.now()) => ({ conversationId: cid, userId: "u-1", now });
const codes = (snap: PolicySnapshot, cid: string, request: Parameters<typeof decide>[2], now?: number) =>
  decide(snap, at(cid, now), request).reasons.map((r) => r.code);
const MESSAGE = { kind: "message" } as const;
const WRITE = { kind: "skill", skillKey: "ticket.create" } as const;

/** Resolves when every replica enforces `revision`; returns how long that took. */
async function allApplied(revision: number, since: number): Promise<number> {
  await waitFor(
    async () => (replicas.every((r) => (r.snapshot()?.revision ?? -1) >= revision) ? true : undefined),
    5_000,
    `revision ${revision} on all three replicas`,
  );
  return Date.now() - since;
}

describe("scoped safe mode on three replicas", () => {
  it("is live on all three within 5 s, applies to its scope only, and reverts at its expiry on all three", async () => {
    replicas = [1, 2, 3].map(() => startPolicyRuntime({ db: h.db, databaseUrl: h.testDb.url, logger: h.logger }));
    await Promise.all(replicas.map((r) => r.loaded));

    // The TTL's minimum is a minute: start the activation 55 s in the past, so it ends in 5 s.
    const started = Date.now();
    const on = await setSafeMode(
      h.db,
      OPERATOR,
      { active: true, level: "MAINTENANCE", scopes: ["conversation:cid-a"], ttlMs: 60_000, reason: "cid-a floods" },
      new Date(started - 55_000),
    );
    const propagation = await allApplied(on.revision, started);
    expect(propagation).toBeLessThan(5_000);
    for (const r of replicas) {
      const snap = r.snapshot()!;
      expect(codes(snap, "cid-a", MESSAGE)).toEqual(["safe_mode.maintenance"]);
      expect(codes(snap, "cid-b", MESSAGE)).toEqual([]);
      expect(codes(snap, "cid-b", WRITE)).toEqual([]);
    }

    // At its expiry: no replica applies it any more, and one of them closes it in the history.
    const expiresAt = on.expiresAt!.getTime();
    await waitFor(
      async () =>
        (await h.db.safeModeEvent.findUniqueOrThrow({ where: { id: on.eventId } })).endedAt ? true : undefined,
      10_000,
      "the expired activation closed",
    );
    for (const r of replicas) expect(codes(r.snapshot()!, "cid-a", MESSAGE, expiresAt)).toEqual([]);
    const expire = await h.db.auditLog.findMany({ where: { action: "safe_mode.expire" } });
    expect(expire).toHaveLength(1);
    const reverted = await allApplied(expire[0]!.configRevision!, expiresAt);
    expect(reverted).toBeLessThan(5_000);
    for (const r of replicas) {
      expect(r.snapshot()!.safeMode).toEqual([]);
      expect(codes(r.snapshot()!, "cid-a", MESSAGE)).toEqual([]);
    }
    expect(await h.db.safeModeEvent.findUniqueOrThrow({ where: { id: on.eventId } })).toMatchObject({
      endedBy: "ttl",
      endedAt: on.expiresAt,
    });
    const trigger = await h.db.incidentTrigger.findFirstOrThrow({ where: { refId: on.eventId } });
    expect(trigger.endedAt).toEqual(on.expiresAt);
  });

  it("a risk scope and the kill switch withdraw their skills on every replica, and leave the rest", async () => {
    const started = Date.now();
    const writes = await setSafeMode(h.db, OPERATOR, { active: true, scopes: ["risk:WRITE"], reason: "bad writes" });
    await allApplied(writes.revision, started);
    for (const r of replicas) {
      expect(codes(r.snapshot()!, "cid-b", WRITE)).toEqual(["safe_mode.withdrawn"]);
      expect(codes(r.snapshot()!, "cid-b", { kind: "skill", skillKey: "kb.search" })).toEqual([]);
      expect(codes(r.snapshot()!, "cid-b", MESSAGE)).toEqual([]);
    }
    const off = await setSafeMode(h.db, OPERATOR, { active: false, reason: "fixed" });
    const kill = await setKillSwitch(h.db, OPERATOR, { active: true, reason: "stop all writes" });
    expect(kill.revision).toBeGreaterThan(off.revision);
    await allApplied(kill.revision, Date.now());
    for (const r of replicas) expect(codes(r.snapshot()!, "cid-b", WRITE)).toEqual(["kill_switch"]);
    const back = await setKillSwitch(h.db, OPERATOR, { active: false, reason: "done" });
    await allApplied(back.revision, Date.now());
    for (const r of replicas) expect(codes(r.snapshot()!, "cid-b", WRITE)).toEqual([]);
  });

  it("tells the ops chats once per event, however many replicas sweep at once", async () => {
    const announcer = () =>
      createAnnouncer({
        db: h.db,
        pool: h.pool,
        throttle: createThrottle(h.pool),
        senders: realSenders(h.queueEnv()),
        defaultRobotCode: APP_KEY,
        limiterName: "announce-ops",
        limit: { points: 60, durationSec: 3_600 },
      });
    const events = await h.db.opsNotice.count();
    expect(events).toBe(6); // on, expired; risk on, off; kill switch on, off
    await Promise.all([1, 2, 3].map(() => sweepSafeMode(h.db, announcer(), h.logger)));
    const told = h.fake.sent.filter((s) => s.conversationId === "cid-ops");
    expect(told).toHaveLength(6);
    expect(await h.db.opsNotice.count({ where: { sentAt: null } })).toBe(0);
    await sweepSafeMode(h.db, announcer(), h.logger);
    expect(h.fake.sent.filter((s) => s.conversationId === "cid-ops")).toHaveLength(6);
  });
});

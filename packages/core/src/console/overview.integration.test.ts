import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { getOverview, HEARTBEAT_STALE_MS, windowStart } from "./overview.ts";

let tdb: TestDatabase;
let db: Db;
const now = new Date("2026-11-22T10:20:00Z");
const ago = (ms: number) => new Date(now.getTime() - ms);
const H = 3_600_000;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = createDb(tdb.url, { max: 8 });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

describe("getOverview", () => {
  it("is empty and calm on a fresh database", async () => {
    const o = await getOverview(db, now);
    expect(o.safeMode.active).toBe(false);
    expect(o.config).toMatchObject({ latest: null, replicas: [], online: 0, upToDate: 0 });
    expect(o.last24h.hourly).toHaveLength(24);
    expect(o.last24h.totals.inbound).toBe(0);
    expect(o.topSkills).toEqual([]);
    expect(o.budgets).toEqual([]);
  });

  it("shows replicas with their applied revision; a stale heartbeat is offline", async () => {
    const r1 = await db.configRevision.create({
      data: { actorType: "SYSTEM", actorName: "seed", summary: "seed", createdAt: ago(H) },
    });
    const r2 = await db.configRevision.create({
      data: { actorType: "USER", actorName: "ada", summary: "skill kb.search enabled" },
    });
    await db.runtimeInstance.createMany({
      data: [
        {
          id: "rt_a",
          hostname: "bot-1",
          pid: 1,
          version: "1",
          mode: "http",
          heartbeatAt: ago(2_000),
          appliedRevision: r2.id,
        },
        {
          id: "rt_b",
          hostname: "bot-2",
          pid: 2,
          version: "1",
          mode: "http",
          heartbeatAt: ago(5_000),
          appliedRevision: r1.id,
        },
        {
          id: "rt_c",
          hostname: "bot-3",
          pid: 3,
          version: "1",
          mode: "stream",
          heartbeatAt: ago(HEARTBEAT_STALE_MS + 1),
          appliedRevision: r2.id,
        },
      ],
    });
    const o = await getOverview(db, now);
    expect(o.config.latest).toMatchObject({ revision: r2.id, summary: "skill kb.search enabled", actorName: "ada" });
    expect(o.config.replicas.map((r) => [r.hostname, r.online, r.upToDate])).toEqual([
      ["bot-1", true, true],
      ["bot-2", true, false],
      ["bot-3", false, false],
    ]);
    expect(o.config).toMatchObject({ online: 2, upToDate: 1 });

    await db.runtimeInstance.update({ where: { id: "rt_b" }, data: { appliedRevision: r2.id } });
    expect((await getOverview(db, now)).config).toMatchObject({ online: 2, upToDate: 2 });
  });

  it("reports safe mode with its reason, start and expiry; past its TTL it is off", async () => {
    await db.safeModeEvent.create({
      data: {
        level: "MAINTENANCE",
        message: "Back soon",
        reason: "model outage",
        actorType: "USER",
        actorName: "oli",
        startedAt: ago(10 * 60_000),
        expiresAt: new Date(now.getTime() + H),
      },
    });
    const on = await getOverview(db, now);
    expect(on.safeMode).toMatchObject({
      active: true,
      activations: 1,
      scopes: [],
      killSwitch: false,
      level: "MAINTENANCE",
      reason: "model outage",
      message: "Back soon",
      actorName: "oli",
      since: ago(10 * 60_000),
      expiresAt: new Date(now.getTime() + H),
    });
    const later = await getOverview(db, new Date(now.getTime() + 2 * H));
    expect(later.safeMode).toMatchObject({ active: false, reason: null });
  });

  it("counts the last 24 h per hour: messages by status, skill calls, top skills", async () => {
    const msg = (i: number, status: "REPLIED" | "DENIED" | "FAILED" | "RECEIVED", receivedAt: Date) => ({
      robotCode: "r",
      msgId: `m${i}`,
      channel: "HTTP" as const,
      conversationId: "c1",
      senderId: "s1",
      msgType: "text",
      payload: {},
      status,
      traceId: `t${i}`,
      receivedAt,
    });
    await db.inboundMessage.createMany({
      data: [
        msg(1, "REPLIED", ago(5 * 60_000)),
        msg(2, "REPLIED", ago(10 * 60_000)),
        msg(3, "DENIED", ago(2 * H)),
        msg(4, "FAILED", ago(2 * H)),
        msg(5, "RECEIVED", ago(23 * H)),
        msg(6, "REPLIED", ago(25 * H)), // outside the window
      ],
    });
    const call = (
      skillKey: string,
      decision: "ALLOW" | "DENY",
      outcome: "SUCCESS" | "ERROR" | "TIMEOUT" | "DENIED",
      createdAt: Date,
    ) => ({
      traceId: "t",
      conversationId: "c1",
      userId: "s1",
      skillKey,
      decision,
      outcome,
      configRevision: 1,
      createdAt,
    });
    await db.skillInvocation.createMany({
      data: [
        call("kb.search", "ALLOW", "SUCCESS", ago(60_000)),
        call("kb.search", "ALLOW", "TIMEOUT", ago(60_000)),
        call("kb.search", "ALLOW", "SUCCESS", ago(3 * H)),
        call("ticket.create", "DENY", "DENIED", ago(3 * H)),
        call("http.fetch", "ALLOW", "ERROR", ago(30 * H)), // outside
      ],
    });
    const o = await getOverview(db, now);
    expect(o.last24h.since).toEqual(windowStart(now));
    expect(o.last24h.since.toISOString()).toBe("2026-11-21T11:00:00.000Z");
    expect(o.last24h.totals).toEqual({
      inbound: 5,
      replied: 2,
      denied: 1,
      failed: 1,
      skillCalls: 4,
      skillDenied: 1,
      skillErrors: 1,
    });
    const last = o.last24h.hourly.at(-1)!;
    expect(last.hour.toISOString()).toBe("2026-11-22T10:00:00.000Z");
    expect(last).toMatchObject({ inbound: 2, replied: 2, skillCalls: 2, skillErrors: 1 });
    expect(o.last24h.hourly.find((b) => b.hour.toISOString() === "2026-11-22T08:00:00.000Z")).toMatchObject({
      inbound: 2,
      denied: 1,
      failed: 1,
    });
    expect(o.topSkills).toEqual([
      { skillKey: "kb.search", calls: 3, denied: 0, errors: 1 },
      { skillKey: "ticket.create", calls: 1, denied: 1, errors: 0 },
    ]);
  });

  it("shows today's token burn against each daily budget; DEFAULT shows its busiest subject", async () => {
    await db.tokenBudget.createMany({
      data: [
        { scope: "GLOBAL", subject: "", dailyTokens: 100_000 },
        { scope: "DEFAULT", subject: "", dailyTokens: 5_000 },
        { scope: "CONVERSATION", subject: "c-own", dailyTokens: 20_000 },
        { scope: "USER", subject: "u-monthly", monthlyTokens: 1_000 }, // no daily limit: not shown
      ],
    });
    const today = new Date("2026-11-22T00:00:00Z");
    const yesterday = new Date("2026-11-21T00:00:00Z");
    await db.usageCounter.createMany({
      data: [
        {
          scope: "GLOBAL",
          subject: "",
          window: "DAY",
          windowStart: today,
          tokensUsed: 41_000n,
          tokensReserved: 500n,
          requests: 30,
        },
        { scope: "GLOBAL", subject: "", window: "DAY", windowStart: yesterday, tokensUsed: 99_000n, requests: 80 },
        { scope: "CONVERSATION", subject: "c-own", window: "DAY", windowStart: today, tokensUsed: 9_000n, requests: 5 },
        {
          scope: "CONVERSATION",
          subject: "c-busy",
          window: "DAY",
          windowStart: today,
          tokensUsed: 4_600n,
          requests: 9,
        },
        { scope: "USER", subject: "u1", window: "DAY", windowStart: today, tokensUsed: 1_200n, requests: 2 },
      ],
    });
    const o = await getOverview(db, now);
    expect(o.budgets).toEqual([
      {
        scope: "GLOBAL",
        subject: "",
        subjectScope: "GLOBAL",
        limit: 100_000,
        used: 41_000,
        reserved: 500,
        requests: 30,
      },
      {
        scope: "DEFAULT",
        subject: "c-busy",
        subjectScope: "CONVERSATION",
        limit: 5_000,
        used: 4_600,
        reserved: 0,
        requests: 9,
      },
      {
        scope: "CONVERSATION",
        subject: "c-own",
        subjectScope: "CONVERSATION",
        limit: 20_000,
        used: 9_000,
        reserved: 0,
        requests: 5,
      },
    ]);
  });
});

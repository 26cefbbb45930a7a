import { createDb, type Db } from "@clawgate/db";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { getOverview } from "./overview.ts";
import { hourlyCounts, pruneRollups, rollableHours, rollHours } from "./rollup.ts";

let tdb: TestDatabase;
let db: Db;
const now = new Date("2026-11-22T10:20:00Z");
const H = 3_600_000;
const ago = (ms: number) => new Date(now.getTime() - ms);

beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_core_rollup" });
  db = createDb(tdb.url, { max: 4 });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});
beforeEach(async () => {
  await db.hourlyRollup.deleteMany();
  await db.inboundMessage.deleteMany();
  await db.skillInvocation.deleteMany();
});

let seq = 0;
const message = (status: "REPLIED" | "DENIED" | "FAILED", receivedAt: Date) => ({
  robotCode: "r",
  msgId: `m${++seq}`,
  channel: "HTTP" as const,
  conversationId: "c1",
  senderId: "s1",
  msgType: "text",
  payload: {},
  status,
  traceId: `t${seq}`,
  receivedAt,
});
const call = (
  skillKey: string,
  decision: "ALLOW" | "DENY",
  outcome: "SUCCESS" | "ERROR" | "DENIED",
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

async function fill() {
  await db.inboundMessage.createMany({
    data: [
      message("REPLIED", ago(5 * 60_000)), // this hour: live
      message("REPLIED", ago(90 * 60_000)), // 08:50: the 08:00 hour closed 80 minutes ago, rolled
      message("DENIED", ago(3 * H)), // 07:20: rolled
      message("FAILED", ago(3 * H)),
      message("REPLIED", ago(20 * H)),
    ],
  });
  await db.skillInvocation.createMany({
    data: [
      call("kb.search", "ALLOW", "SUCCESS", ago(60_000)),
      call("kb.search", "ALLOW", "ERROR", ago(3 * H)),
      call("ticket.create", "DENY", "DENIED", ago(3 * H)),
      call("ticket.create", "ALLOW", "SUCCESS", ago(20 * H)),
    ],
  });
}

describe("the Overview's hourly rollup", () => {
  it("rolls hours closed an hour ago, once, and the Overview reads the same figures as live", async () => {
    await fill();
    const live = await getOverview(db, now);

    const hours = await rollHours(db, now);
    // 10:20: the 09:00 hour closed 20 minutes ago and the 08:00 hour 80 minutes ago.
    expect(hours.at(-1)!.toISOString()).toBe("2026-11-22T08:00:00.000Z");
    expect(hours).toHaveLength(26);
    expect(await rollHours(db, now)).toEqual([]); // nothing twice
    const rolled = await getOverview(db, now);
    expect(rolled.last24h).toEqual(live.last24h);
    expect(rolled.topSkills).toEqual(live.topSkills);
    expect(rolled.topSkills).toEqual([
      { skillKey: "kb.search", calls: 2, denied: 0, errors: 1 },
      { skillKey: "ticket.create", calls: 2, denied: 1, errors: 0 },
    ]);
  });

  it("reads a rolled hour from the rollup and an hour never rolled live", async () => {
    await fill();
    await rollHours(db, now);
    // A row written into a rolled hour afterwards is not counted again (the hour is closed)...
    await db.inboundMessage.create({ data: message("REPLIED", ago(3 * H)) });
    expect((await getOverview(db, now)).last24h.totals.inbound).toBe(5);
    // ...but with that hour's rollup gone (the job missed it), it is read live from there on.
    await db.hourlyRollup.delete({ where: { hour: new Date("2026-11-22T07:00:00Z") } });
    const counts = await hourlyCounts(db, new Date("2026-11-21T11:00:00Z"));
    expect(counts.inbound.filter((r) => r.hour.toISOString() === "2026-11-22T07:00:00.000Z")).toEqual(
      expect.arrayContaining([expect.objectContaining({ status: "REPLIED", n: 1 })]),
    );
    expect((await getOverview(db, now)).last24h.totals.inbound).toBe(6);
  });

  it("two replicas rolling at once count each hour once; old rollups are pruned", async () => {
    await fill();
    const [a, b] = await Promise.all([rollHours(db, now), rollHours(db, now)]);
    expect(a.length + b.length).toBe(rollableHours(now).length);
    expect(await db.hourlyStat.aggregate({ where: { kind: "inbound" }, _sum: { n: true } })).toEqual({
      _sum: { n: 4 },
    });
    expect(await pruneRollups(db, new Date(now.getTime() + 72 * H))).toBe(26);
  });
});

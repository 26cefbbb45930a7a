import { createDb, type Db } from "@clawgate/db";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Actor } from "./actor.ts";
import { verifyAuditChain } from "./audit.ts";
import { DomainError } from "./errors.ts";
import {
  endIncidentTrigger,
  openOrJoinIncident,
  reviewIncident,
  settleIncidents,
  unreviewedIncidentWindows,
} from "./incidents.ts";

let tdb: TestDatabase;
let db: Db;
const oncall: Actor = { type: "CLI", name: "cli:oncall@host" };
const lead: Actor = { type: "USER", id: "u-lead", name: "lead@clawgate.local" };
const T0 = new Date("2026-12-04T10:00:00Z");
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_core_incidents" });
  db = createDb(tdb.url, { max: 4 });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});
beforeEach(async () => {
  await db.incident.deleteMany();
});

describe("incidents", () => {
  it("a trigger opens an incident, a second joins it, and it needs review once both ended", async () => {
    const a = await db.$transaction((tx) =>
      openOrJoinIncident(tx, {
        kind: "safe_mode",
        refId: "sm1",
        summary: "Safe mode READ_ONLY: DB migration",
        actor: oncall,
        at: at(0),
      }),
    );
    expect(a.opened).toBe(true);
    const b = await db.$transaction((tx) =>
      openOrJoinIncident(tx, { kind: "kill_switch", summary: "Kill switch on", actor: lead, at: at(5) }),
    );
    expect(b).toMatchObject({ incidentId: a.incidentId, opened: false });

    await db.$transaction((tx) => endIncidentTrigger(tx, { kind: "safe_mode", refId: "sm1" }, at(10)));
    expect((await db.incident.findUniqueOrThrow({ where: { id: a.incidentId } })).status).toBe("OPEN");
    await db.$transaction((tx) => endIncidentTrigger(tx, { kind: "kill_switch" }, at(20)));
    const closed = await db.incident.findUniqueOrThrow({ where: { id: a.incidentId } });
    expect(closed).toMatchObject({ status: "NEEDS_REVIEW", closedAt: at(20), openedBy: oncall.name });
    expect(await unreviewedIncidentWindows(db)).toEqual([{ id: a.incidentId, from: at(0), to: at(20) }]);

    // The next trigger opens a new incident: the first one's window is closed.
    const c = await db.$transaction((tx) =>
      openOrJoinIncident(tx, {
        kind: "breaker",
        refId: "internal_api:http://x",
        summary: "Breaker open",
        actor: oncall,
        at: at(30),
      }),
    );
    expect(c.opened).toBe(true);
    expect(c.incidentId).not.toBe(a.incidentId);

    const actions = await db.auditLog.findMany({ where: { targetType: "incident" }, orderBy: { id: "asc" } });
    expect(actions.map((r) => r.action)).toEqual(["incident.open", "incident.join", "incident.open"]);
    expect(await verifyAuditChain(db)).toBeNull();
  });

  it("a trigger that ends by itself (a grant with a TTL) closes the window once the clock passes it", async () => {
    const g = await db.$transaction((tx) =>
      openOrJoinIncident(tx, {
        kind: "break_glass",
        refId: "g1",
        summary: "Break-glass sign-in",
        actor: oncall,
        at: at(0),
        endsAt: at(15),
      }),
    );
    await settleIncidents(db, at(10));
    expect((await db.incident.findUniqueOrThrow({ where: { id: g.incidentId } })).status).toBe("OPEN");
    await settleIncidents(db, at(16));
    expect(await db.incident.findUniqueOrThrow({ where: { id: g.incidentId } })).toMatchObject({
      status: "NEEDS_REVIEW",
      closedAt: at(15),
    });
  });

  it("a review is refused while open, when empty, and twice; it is recorded once", async () => {
    const a = await db.$transaction((tx) =>
      openOrJoinIncident(tx, { kind: "safe_mode", refId: "sm2", summary: "Safe mode", actor: oncall, at: at(0) }),
    );
    await expect(reviewIncident(db, lead, a.incidentId, { review: "done" }, at(1))).rejects.toMatchObject({
      code: "CONFLICT",
      reason: "still_open",
    });
    await db.$transaction((tx) => endIncidentTrigger(tx, { kind: "safe_mode", refId: "sm2" }, at(2)));
    await expect(reviewIncident(db, lead, a.incidentId, { review: "  " }, at(3))).rejects.toBeInstanceOf(DomainError);
    await expect(reviewIncident(db, lead, "nope", { review: "x" }, at(3))).rejects.toMatchObject({ code: "NOT_FOUND" });
    await reviewIncident(
      db,
      lead,
      a.incidentId,
      { review: "The migration locked the table; next time read-only first." },
      at(3),
    );
    expect(await db.incident.findUniqueOrThrow({ where: { id: a.incidentId } })).toMatchObject({
      status: "REVIEWED",
      reviewedBy: lead.name,
    });
    await expect(reviewIncident(db, lead, a.incidentId, { review: "again" }, at(4))).rejects.toMatchObject({
      reason: "already_reviewed",
    });
    expect(await unreviewedIncidentWindows(db)).toEqual([]);
  });
});

describe("the same trigger from several replicas", () => {
  it("is recorded once while in force (idempotent on kind and refId), and again after it ended", async () => {
    const replica = (n: number): Actor => ({ type: "RUNTIME", name: `runtime:r${n}` });
    const open = (n: number) =>
      db.$transaction((tx) =>
        openOrJoinIncident(tx, {
          kind: "breaker",
          refId: "internal_api:kb",
          summary: "Breaker open",
          actor: replica(n),
        }),
      );
    const results = await Promise.all([open(1), open(2), open(3)]);
    expect(new Set(results.map((r) => r.triggerId)).size).toBe(1);
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(await db.incidentTrigger.count({ where: { refId: "internal_api:kb" } })).toBe(1);
    await db.$transaction((tx) => endIncidentTrigger(tx, { kind: "breaker", refId: "internal_api:kb" }));
    expect((await open(1)).duplicate).toBe(false);
    expect(await db.incidentTrigger.count({ where: { refId: "internal_api:kb" } })).toBe(2);
  });
});

import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { seenSubjects } from "./subjects.ts";

let tdb: TestDatabase;
let db: Db;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = createDb(tdb.url, { max: 2 });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

const t0 = Date.parse("2026-11-01T00:00:00Z");
const message = (i: number, senderId: string, payload: object, at: number) => ({
  robotCode: "robot",
  msgId: `m${i}`,
  channel: "HTTP" as const,
  conversationId: "cid-ops",
  senderId,
  msgType: "text",
  payload,
  traceId: `t${i}`,
  receivedAt: new Date(t0 + at),
});

describe("seenSubjects", () => {
  it("is empty on a fresh install", async () => {
    expect(await seenSubjects(db)).toEqual({ people: [], conversations: [] });
  });

  it("lists senders with their latest name, most recent first, plus users that rules and budgets name", async () => {
    await db.conversation.createMany({
      data: [
        {
          conversationId: "cid-ops",
          title: "Ops war room",
          type: "GROUP",
          status: "ENABLED",
          lastSeenAt: new Date(t0 + 50),
        },
        { conversationId: "cid-dm", title: null, type: "SINGLE", status: "PENDING", lastSeenAt: new Date(t0 + 90) },
      ],
    });
    await db.inboundMessage.createMany({
      data: [
        message(1, "staff-li", { senderNick: "Li Lei (old name)" }, 10),
        message(2, "staff-li", { senderNick: "Li Lei" }, 30),
        message(3, "staff-han", { senderNick: "  " }, 20),
        message(4, "staff-mei", { senderNick: "Han Meimei" }, 40),
      ],
    });
    await db.skill.create({ data: { key: "t.skill", description: "test", riskClass: "READ" } });
    await db.skillRule.createMany({
      data: [
        { skillKey: "t.skill", scope: "USER", subject: "staff-gone", effect: "DENY" },
        { skillKey: "t.skill", scope: "USER", subject: "staff-li", effect: "ALLOW" },
        { skillKey: "t.skill", scope: "CONVERSATION", subject: "cid-ops", effect: "ALLOW" },
      ],
    });
    await db.tokenBudget.create({ data: { scope: "USER", subject: "staff-budgeted", dailyTokens: 10 } });

    const seen = await seenSubjects(db);
    expect(seen.people).toEqual([
      { id: "staff-mei", name: "Han Meimei", lastSeenAt: new Date(t0 + 40) },
      { id: "staff-li", name: "Li Lei", lastSeenAt: new Date(t0 + 30) },
      { id: "staff-han", name: null, lastSeenAt: new Date(t0 + 20) },
      { id: "staff-gone", name: null, lastSeenAt: null },
      { id: "staff-budgeted", name: null, lastSeenAt: null },
    ]);
    expect(seen.conversations).toEqual([
      {
        id: "cid-dm",
        name: null,
        type: "SINGLE",
        status: "PENDING",
        environment: "PROD",
        lastSeenAt: new Date(t0 + 90),
      },
      {
        id: "cid-ops",
        name: "Ops war room",
        type: "GROUP",
        status: "ENABLED",
        environment: "PROD",
        lastSeenAt: new Date(t0 + 50),
      },
    ]);
    expect((await seenSubjects(db, 1)).people.map((p) => p.id)).toEqual(["staff-mei", "staff-gone", "staff-budgeted"]);
  });
});

import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import { listConversations, updateConversation } from "./conversations.ts";
import { DomainError } from "../errors.ts";

let tdb: TestDatabase;
let db: Db;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = createDb(tdb.url, { max: 4 });
  const t0 = Date.parse("2026-11-01T00:00:00Z");
  await db.conversation.createMany({
    data: [
      {
        conversationId: "cid-ops",
        title: "Ops war room",
        type: "GROUP",
        status: "ENABLED",
        environment: "PROD",
        lastSeenAt: new Date(t0 + 3000),
      },
      {
        conversationId: "cid-new",
        title: "New team",
        type: "GROUP",
        status: "PENDING",
        environment: "PROD",
        lastSeenAt: new Date(t0 + 5000),
      },
      {
        conversationId: "cid-dm",
        title: null,
        type: "SINGLE",
        status: "PENDING",
        environment: "TEST",
        lastSeenAt: new Date(t0 + 1000),
      },
      {
        conversationId: "cid-old",
        title: "Old project",
        type: "GROUP",
        status: "DISABLED",
        environment: "TEST",
        lastSeenAt: new Date(t0),
      },
    ],
  });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

describe("listConversations", () => {
  it("lists the most recently seen first with counts per status", async () => {
    const all = await listConversations(db);
    expect(all.items.map((c) => c.conversationId)).toEqual(["cid-new", "cid-ops", "cid-dm", "cid-old"]);
    expect(all.counts).toEqual({ PENDING: 2, ENABLED: 1, DISABLED: 1 });
    expect(all.total).toBe(4);
  });

  it("filters by status, environment and title, and pages", async () => {
    expect((await listConversations(db, { status: "PENDING" })).items.map((c) => c.conversationId)).toEqual([
      "cid-new",
      "cid-dm",
    ]);
    expect((await listConversations(db, { environment: "TEST" })).total).toBe(2);
    expect((await listConversations(db, { search: "war ROOM" })).items.map((c) => c.conversationId)).toEqual([
      "cid-ops",
    ]);
    const p2 = await listConversations(db, { page: 2, pageSize: 3 });
    expect(p2.items.map((c) => c.conversationId)).toEqual(["cid-old"]);
    expect(p2.total).toBe(4);
  });

  it("refuses bad filters", async () => {
    await expect(listConversations(db, { status: "MAYBE" as never })).rejects.toThrow(/status must be/);
  });
});

describe("updateConversation", () => {
  const idOf = async (cid: string) => (await db.conversation.findUniqueOrThrow({ where: { conversationId: cid } })).id;

  it("enables a pending conversation and sets its environment, with a field diff", async () => {
    const id = await idOf("cid-new");
    const change = await db.$transaction((tx) =>
      updateConversation(tx, { id, status: "ENABLED", environment: "TEST" }),
    );
    expect(change.diff).toEqual({
      status: { from: "PENDING", to: "ENABLED" },
      environment: { from: "PROD", to: "TEST" },
    });
    expect(change.summary).toBe('Conversation "New team": status PENDING -> ENABLED, environment PROD -> TEST');
    expect(await db.conversation.findUniqueOrThrow({ where: { id } })).toMatchObject({
      status: "ENABLED",
      environment: "TEST",
    });
  });

  it("refuses a no-op, an unknown id, PENDING as a target and an empty change", async () => {
    const id = await idOf("cid-ops");
    const refused = async (p: Promise<unknown>, code: string, msg: RegExp) => {
      const e = await p.then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(DomainError);
      expect(e).toMatchObject({ code });
      expect((e as Error).message).toMatch(msg);
    };
    // A save that changes nothing is not refused: an empty diff (the caller records no revision).
    expect(await db.$transaction((tx) => updateConversation(tx, { id, status: "ENABLED" }))).toMatchObject({
      diff: {},
      status: "ENABLED",
    });
    await refused(
      db.$transaction((tx) => updateConversation(tx, { id: "nope", status: "DISABLED" })),
      "NOT_FOUND",
      /No such/,
    );
    await refused(
      db.$transaction((tx) => updateConversation(tx, { id, status: "PENDING" as never })),
      "BAD_REQUEST",
      /ENABLED or DISABLED/,
    );
    await refused(
      db.$transaction((tx) => updateConversation(tx, { id })),
      "BAD_REQUEST",
      /nothing to change/,
    );
    expect(await db.conversation.findUniqueOrThrow({ where: { id } })).toMatchObject({
      status: "ENABLED",
      environment: "PROD",
    });
  });
});

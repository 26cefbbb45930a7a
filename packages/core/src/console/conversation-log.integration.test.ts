import { createDb, type Db } from "@clawgate/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import type { Actor } from "../actor.ts";
import { verifyAuditChain } from "../audit.ts";
import { conversationLog, logTextRoles, setLogTextRoles, type LogViewer } from "./conversation-log.ts";

let tdb: TestDatabase;
let db: Db;
let convId: string;
const admin: LogViewer = { role: "ADMIN", actor: { type: "USER", id: "u-admin", name: "admin@example.test" } };
const viewer: LogViewer = { role: "VIEWER", actor: { type: "USER", id: "u-viewer", name: "viewer@example.test" } };
const operator: LogViewer = { role: "OPERATOR", actor: { type: "USER", id: "u-op", name: "op@example.test" } };
const SECRET = "my phone is the secret words";
const t0 = Date.parse("2026-11-01T00:00:00Z");

const textMsg = (content: string) => ({ msgtype: "text", text: { content }, senderNick: "Dana" });

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = createDb(tdb.url, { max: 4 });
  const conv = await db.conversation.create({
    data: { conversationId: "cid-log", title: "Log room", type: "GROUP", status: "ENABLED" },
  });
  convId = conv.id;
  await db.conversation.create({ data: { conversationId: "cid-other", type: "SINGLE" } });
  // 30 messages: every third from bob; m-5 ran kb.search, m-7 was denied ticket.create, m-9 waits.
  for (let i = 0; i < 30; i++) {
    await db.inboundMessage.create({
      data: {
        id: `m-${String(i).padStart(2, "0")}`,
        robotCode: "robot",
        msgId: `msg-${i}`,
        channel: "HTTP",
        conversationId: "cid-log",
        senderId: i % 3 === 0 ? "bob" : "alice",
        msgType: "text",
        payload: textMsg(`${SECRET} #${i}`),
        status: i === 29 ? "PROCESSING" : "REPLIED",
        traceId: `trace-${i}`,
        // Two messages in the same millisecond: the cursor must not skip or repeat either.
        receivedAt: new Date(t0 + (i === 11 ? 10 : i) * 1000),
        processedAt: new Date(t0 + i * 1000 + 750),
        model: "local/demo",
        configRevision: 7,
        modelCalls: 1,
        promptTokens: 100 + i,
        completionTokens: 20,
        outbound: {
          create: {
            idempotencyKey: `reply-${i}`,
            conversationId: "cid-log",
            channel: "SESSION_WEBHOOK",
            msgType: "text",
            payload: { msgtype: "text", text: { content: `answer ${i}: ${SECRET}` } },
            status: "SENT",
            traceId: `trace-${i}`,
          },
        },
      },
    });
  }
  const call = (i: number, skillKey: string, decision: "ALLOW" | "DENY" | "NEEDS_APPROVAL", outcome: string) =>
    db.skillInvocation.create({
      data: {
        traceId: `trace-${i}`,
        inboundMessageId: `m-${String(i).padStart(2, "0")}`,
        conversationId: "cid-log",
        userId: "alice",
        skillKey,
        decision,
        reasons: decision === "DENY" ? ["rule.deny.conversation"] : [],
        outcome: outcome as never,
        latencyMs: 40,
        configRevision: 7,
      },
    });
  await call(5, "kb.search", "ALLOW", "SUCCESS");
  await call(7, "ticket.create", "DENY", "DENIED");
  await call(9, "ticket.create", "NEEDS_APPROVAL", "PENDING_APPROVAL");
  // A message of another conversation never shows.
  await db.inboundMessage.create({
    data: {
      robotCode: "robot",
      msgId: "other",
      channel: "HTTP",
      conversationId: "cid-other",
      senderId: "alice",
      msgType: "text",
      payload: textMsg("elsewhere"),
      traceId: "trace-other",
    },
  });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

const views = () => db.auditLog.findMany({ where: { action: "conversation.log_view" }, orderBy: { id: "asc" } });

describe("conversation log", () => {
  it("shows ADMIN the texts, newest first, and audits the view with the message ids (not the text)", async () => {
    const before = (await views()).length;
    const log = await conversationLog(db, admin, { id: convId, limit: 5 });
    expect(log.textShown).toBe(true);
    expect(log.items.map((i) => i.id)).toEqual(["m-29", "m-28", "m-27", "m-26", "m-25"]);
    const m = log.items[1]!;
    expect(m.text).toBe(`${SECRET} #28`);
    expect(m.senderName).toBe("Dana");
    expect(m.replies[0]!.text).toBe(`answer 28: ${SECRET}`);
    expect(m).toMatchObject({ model: "local/demo", configRevision: 7, promptTokens: 128, latencyMs: 750 });
    const after = await views();
    expect(after.length).toBe(before + 1);
    const entry = after.at(-1)!;
    expect(entry).toMatchObject({ actorId: "u-admin", targetType: "conversation", targetId: "cid-log" });
    expect(entry.diff).toEqual({ conversationId: "cid-log", messageIds: ["m-29", "m-28", "m-27", "m-26", "m-25"] });
    expect(JSON.stringify({ ...entry, id: String(entry.id) })).not.toContain(SECRET);
    expect(log.auditId).toBe(entry.id.toString());
    expect(await verifyAuditChain(db)).toBeNull();
  });

  it("gives VIEWER metadata only (no text is read or sent) and audits nothing", async () => {
    const before = (await views()).length;
    const log = await conversationLog(db, viewer, { id: convId, limit: 30 });
    expect(log.textShown).toBe(false);
    expect(log.items).toHaveLength(30);
    expect(JSON.stringify(log)).not.toContain(SECRET);
    expect(JSON.stringify(log)).not.toContain("Dana");
    expect(log.items.every((i) => i.text === null && i.replies.every((r) => r.text === null))).toBe(true);
    expect(log.items.find((i) => i.id === "m-07")!.skills[0]).toMatchObject({
      skillKey: "ticket.create",
      decision: "DENY",
      reasons: ["rule.deny.conversation"],
    });
    expect((await views()).length).toBe(before);
  });

  it("pages through every message once by cursor, also across a shared millisecond", async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await conversationLog(db, viewer, { id: convId, limit: 4, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toHaveLength(30);
    expect(new Set(seen).size).toBe(30);
  });

  it("filters by user, skill, outcome, trace id and time", async () => {
    const ids = async (f: Record<string, unknown>) =>
      (await conversationLog(db, viewer, { id: convId, limit: 100, ...f })).items.map((i) => i.id);
    expect((await ids({ user: "bob" })).every((id) => Number(id.slice(2)) % 3 === 0)).toBe(true);
    expect(await ids({ skill: "ticket.create" })).toEqual(["m-09", "m-07"]);
    expect(await ids({ outcome: "skill_denied" })).toEqual(["m-07"]);
    expect(await ids({ outcome: "skill_waiting", skill: "ticket.create" })).toEqual(["m-09"]);
    expect(await ids({ outcome: "skill_ran" })).toEqual(["m-05"]);
    expect(await ids({ outcome: "in_progress" })).toEqual(["m-29"]);
    expect(await ids({ traceId: "trace-12" })).toEqual(["m-12"]);
    expect(await ids({ traceId: "trace-other" })).toEqual([]);
    expect(await ids({ from: new Date(t0 + 2000).toISOString(), to: new Date(t0 + 4000).toISOString() })).toEqual([
      "m-04",
      "m-03",
      "m-02",
    ]);
  });

  it("refuses bad input and an unknown conversation, changing nothing", async () => {
    await expect(conversationLog(db, admin, { id: convId, outcome: "nope" as never })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(conversationLog(db, admin, { id: convId, cursor: "x" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    const before = (await views()).length;
    await expect(conversationLog(db, admin, { id: "missing" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect((await views()).length).toBe(before);
  });

  it("follows the setting: text roles set by an admin (audited), ADMIN always kept", async () => {
    expect(await logTextRoles(db)).toEqual(["ADMIN", "OPERATOR"]);
    expect((await conversationLog(db, operator, { id: convId, limit: 1 })).textShown).toBe(true);
    const actor: Actor = admin.actor;
    const r = await db.$transaction((tx) => setLogTextRoles(tx, actor, { roles: ["VIEWER"] }));
    expect(r).toEqual({ roles: ["ADMIN", "VIEWER"], changed: true });
    expect((await conversationLog(db, operator, { id: convId, limit: 1 })).items[0]!.text).toBeNull();
    expect((await conversationLog(db, viewer, { id: convId, limit: 1 })).items[0]!.text).toContain(SECRET);
    const again = await db.$transaction((tx) => setLogTextRoles(tx, actor, { roles: ["VIEWER", "ADMIN"] }));
    expect(again.changed).toBe(false);
    const settings = await db.auditLog.findMany({ where: { action: "conversation.log_settings" } });
    expect(settings).toHaveLength(1);
    expect(settings[0]!.diff).toEqual({ textRoles: { from: ["ADMIN", "OPERATOR"], to: ["ADMIN", "VIEWER"] } });
    await db.$transaction((tx) => setLogTextRoles(tx, actor, { roles: ["OPERATOR"] }));
  });
});

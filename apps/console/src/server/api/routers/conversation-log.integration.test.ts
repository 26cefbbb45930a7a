// The shared router-test setup goes first: it neutralises server-only and next-auth before trpc.ts loads.
import { routerTest } from "../test-caller.ts";
import { describe, expect, it } from "vitest";
import { createTRPCRouter } from "../trpc.ts";
import { conversationLogRouter } from "./conversation-log.ts";

const SECRET = "the words only some roles read";
let convId = "";

const t = routerTest(createTRPCRouter({ conversationLog: conversationLogRouter }), {
  prefix: "clawgate_console_convlog",
  seed: async (db) => {
    const c = await db.conversation.create({ data: { conversationId: "cid-r", type: "GROUP", title: "Room" } });
    convId = c.id;
    await db.inboundMessage.create({
      data: {
        robotCode: "r",
        msgId: "m1",
        channel: "HTTP",
        conversationId: "cid-r",
        senderId: "u1",
        msgType: "text",
        payload: { msgtype: "text", text: { content: SECRET } },
        traceId: "trace-r",
      },
    });
  },
});

describe("conversation log router", () => {
  it("sends the text to an operator (audited) and never to a viewer or an approver", async () => {
    const op = await t.as("OPERATOR").conversationLog.get({ id: convId });
    expect(op.items[0]!.text).toBe(SECRET);
    for (const role of ["VIEWER", "APPROVER"] as const) {
      const r = await t.as(role).conversationLog.get({ id: convId });
      expect(r.textShown).toBe(false);
      expect(JSON.stringify(r)).not.toContain(SECRET);
    }
    expect(await t.db.auditLog.count({ where: { action: "conversation.log_view" } })).toBe(1);
  });

  it("lets only an admin change who reads texts", async () => {
    await expect(t.as("OPERATOR").conversationLog.setTextRoles({ roles: ["VIEWER"] })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    expect(await t.as("VIEWER").conversationLog.textRoles()).toEqual(["ADMIN", "OPERATOR"]);
    const r = await t.as("ADMIN").conversationLog.setTextRoles({ roles: ["APPROVER"] });
    expect(r).toEqual({ roles: ["ADMIN", "APPROVER"], changed: true });
    expect((await t.as("APPROVER").conversationLog.get({ id: convId })).items[0]!.text).toBe(SECRET);
    expect((await t.as("OPERATOR").conversationLog.get({ id: convId })).items[0]!.text).toBeNull();
  });

  it("answers NOT_FOUND for an unknown conversation and BAD_REQUEST for bad filters", async () => {
    await expect(t.as("ADMIN").conversationLog.get({ id: "nope" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(
      t.as("ADMIN").conversationLog.get({ id: convId, from: new Date("2026-02-01"), to: new Date("2026-01-01") }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });
});

// The shared router-test setup goes first: it neutralises server-only and next-auth before trpc.ts loads.
import { routerTest } from "../test-caller.ts";
import { describe, expect, it } from "vitest";
import { subjectRouter } from "./subject.ts";

const t = routerTest(subjectRouter, {
  prefix: "clawgate_console_subject",
  seed: async (db) => {
    await db.conversation.create({
      data: { conversationId: "cid-ops", title: "Ops war room", type: "GROUP", status: "ENABLED" },
    });
    await db.inboundMessage.create({
      data: {
        robotCode: "r",
        msgId: "m1",
        channel: "HTTP",
        conversationId: "cid-ops",
        senderId: "staff-li",
        msgType: "text",
        payload: { senderNick: "Li Lei", text: { content: "hi" } },
        traceId: "t1",
      },
    });
  },
});

describe("subject.seen", () => {
  it("gives every signed-in role the people and conversations the robot has seen, with names", async () => {
    for (const role of ["VIEWER", "OPERATOR", "APPROVER", "ADMIN"] as const) {
      const seen = await t.as(role).seen();
      expect(seen.people).toEqual([{ id: "staff-li", name: "Li Lei", lastSeenAt: expect.any(Date) }]);
      expect(seen.conversations).toEqual([
        expect.objectContaining({ id: "cid-ops", name: "Ops war room", type: "GROUP", status: "ENABLED" }),
      ]);
    }
  });

  it("refuses the signed-out", async () => {
    await expect(t.as(null).seen()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });
});

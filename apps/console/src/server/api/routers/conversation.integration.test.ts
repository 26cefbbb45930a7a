// The shared router-test setup goes first: it neutralises server-only and next-auth before trpc.ts loads.
import { routerTest } from "../test-caller.ts";
import { beforeAll, describe, expect, it } from "vitest";
import { createTRPCRouter } from "../trpc.ts";
import { conversationRouter } from "./conversation.ts";

const t = routerTest(createTRPCRouter({ conversation: conversationRouter }), {
  prefix: "clawgate_console_conversation",
});
let convId: string;

beforeAll(async () => {
  convId = (await t.db.conversation.create({ data: { conversationId: "cid-1", title: "Team chat", type: "GROUP" } }))
    .id;
  await t.db.conversation.create({ data: { conversationId: "cid-2", title: "Ops", type: "GROUP", status: "ENABLED" } });
});

describe("conversation router", () => {
  it("every role lists, with the pending count", async () => {
    const list = await t.as("VIEWER").conversation.list({ status: "PENDING" });
    expect(list.items.map((c) => c.conversationId)).toEqual(["cid-1"]);
    expect(list.counts.PENDING).toBe(1);
  });

  it("refuses viewers and approvers server-side, changing nothing", async () => {
    for (const role of ["VIEWER", "APPROVER"] as const) {
      await expect(t.as(role).conversation.update({ id: convId, status: "ENABLED" })).rejects.toMatchObject({
        code: "FORBIDDEN",
      });
    }
    expect((await t.db.conversation.findUniqueOrThrow({ where: { id: convId } })).status).toBe("PENDING");
    expect(await t.db.auditLog.count({ where: { action: { not: "auth.refused" } } })).toBe(0);
    expect(await t.db.configRevision.count()).toBe(0);
  });

  it("an operator enables it: change, audit entry and config revision together", async () => {
    const res = await t.as("OPERATOR").conversation.update({ id: convId, status: "ENABLED", environment: "TEST" });
    expect(res).toMatchObject({ status: "ENABLED", environment: "TEST" });
    const rev = await t.db.configRevision.findFirstOrThrow({ orderBy: { id: "desc" } });
    expect(res.revision).toBe(rev.id);
    const audit = await t.db.auditLog.findFirstOrThrow({ orderBy: { id: "desc" } });
    expect(audit).toMatchObject({
      action: "conversation.update",
      targetType: "conversation",
      targetId: "cid-1",
      actorId: "u-operator",
      traceId: "req-OPERATOR",
      configRevision: rev.id,
      diff: { status: { from: "PENDING", to: "ENABLED" }, environment: { from: "PROD", to: "TEST" } },
    });
  });

  it("bad input and no-ops get clear errors and write nothing", async () => {
    const before = await t.db.auditLog.count({ where: { action: { not: "auth.refused" } } });
    await expect(t.as("ADMIN").conversation.update({ id: convId, status: "PENDING" as never })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(t.as("ADMIN").conversation.update({ id: convId })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringMatching(/nothing to change/),
    });
    expect(await t.as("ADMIN").conversation.update({ id: convId, status: "ENABLED" })).toMatchObject({
      revision: null,
      changed: false,
    });
    await expect(t.as("ADMIN").conversation.update({ id: "missing", status: "DISABLED" })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    expect(await t.db.auditLog.count({ where: { action: { not: "auth.refused" } } })).toBe(before);
  });
});

// The shared router-test setup goes first: it neutralises server-only and next-auth before trpc.ts loads.
import { routerTest } from "../test-caller.ts";
import { recordDeadLetter } from "@clawgate/core/dead-letters.ts";
import { runMigrations } from "graphile-worker";
import { withDatabase } from "@clawgate/devstack/testdb";
import { beforeAll, describe, expect, it } from "vitest";
import { deadLetterRouter } from "./dead-letter.ts";

const t = routerTest(deadLetterRouter, {
  prefix: "clawgate_console_dead_letter",
});

// The runtime's queue schema, as `clawgate serve` creates it (a retry enqueues on it).
beforeAll(async () => {
  const [row] = await t.db.$queryRaw<{ name: string }[]>`SELECT current_database()::text AS name`;
  await runMigrations({ connectionString: withDatabase(process.env.DATABASE_URL!, row!.name) });
});

const jobs = () =>
  t.db.$queryRaw<{ inboundId: string }[]>`SELECT j.payload->>'inboundId' AS "inboundId"
    FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks k ON k.id = j.task_id
    WHERE k.identifier = 'inbound.handle'`;

async function letterFor(msgId: string) {
  const inbound = await t.db.inboundMessage.create({
    data: {
      robotCode: "r",
      msgId,
      channel: "HTTP",
      conversationId: "cid-1",
      senderId: "s",
      msgType: "text",
      payload: { text: { content: "hi" } },
      traceId: `trace-${msgId}`,
      status: "FAILED",
    },
  });
  const id = await recordDeadLetter(t.db, {
    source: "INBOUND_JOB",
    reason: "the same error twice: boom",
    traceId: `trace-${msgId}`,
    inboundMessageId: inbound.id,
    attempts: 2,
  });
  return { id, inboundId: inbound.id };
}

describe("dead letter router", () => {
  it("lists open dead letters, newest first, with reason, trace id and time, for every role", async () => {
    const a = await letterFor("m-list-1");
    const b = await letterFor("m-list-2");
    for (const role of ["VIEWER", "OPERATOR", "APPROVER", "ADMIN"] as const) {
      const list = await t.as(role).list();
      expect(list.open).toBeGreaterThanOrEqual(2);
      expect(list.items.map((i) => i.id).slice(0, 2)).toEqual([b.id, a.id]);
      expect(list.items[0]).toMatchObject({
        source: "INBOUND_JOB",
        status: "OPEN",
        reason: "the same error twice: boom",
        traceId: "trace-m-list-2",
      });
      expect(list.items[0]!.createdAt).toBeInstanceOf(Date);
    }
    await expect(t.as(null).list()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });

  it("an operator retries: the message is RECEIVED again and the retry audited; a second retry conflicts", async () => {
    const { id, inboundId } = await letterFor("m-retry");
    await expect(t.as("VIEWER").retry({ id })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(t.as("APPROVER").retry({ id })).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect((await t.db.deadLetter.findUniqueOrThrow({ where: { id } })).status).toBe("OPEN");

    expect(await t.as("OPERATOR").retry({ id })).toEqual({ id, status: "RETRIED" });
    expect(await t.db.inboundMessage.findUniqueOrThrow({ where: { id: inboundId } })).toMatchObject({
      status: "RECEIVED",
      error: null,
    });
    expect((await jobs()).map((j) => j.inboundId)).toContain(inboundId);
    const audit = await t.db.auditLog.findFirstOrThrow({ where: { action: "dead_letter.retry", targetId: id } });
    expect(audit).toMatchObject({ actorType: "USER", actorName: "operator@example.test", traceId: "req-OPERATOR" });
    await expect(t.as("ADMIN").retry({ id })).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(t.as("ADMIN").retry({ id: "missing" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

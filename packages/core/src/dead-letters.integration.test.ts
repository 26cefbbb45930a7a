import { createDb, type Db } from "@clawgate/db";
import { runMigrations } from "graphile-worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "@clawgate/devstack/testdb";
import type { Actor } from "./actor.ts";
import { listDeadLetters, recordDeadLetter, retryDeadLetter } from "./dead-letters.ts";
import type { DomainError } from "./errors.ts";

const actor: Actor = { type: "CLI", id: "ops@host", name: "clawgate dead-letters (ops@host)" };
let tdb: TestDatabase;
let db: Db;

beforeAll(async () => {
  tdb = await createTestDatabase({ prefix: "clawgate_core_dead_letters" });
  db = createDb(tdb.url, { max: 4 });
});
afterAll(async () => {
  await db?.$disconnect();
  await tdb?.drop();
});

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => expect.unreachable("no refusal"),
    (e: unknown) => (e as DomainError).reason,
  );

const jobsFor = async (inboundId: string) =>
  (
    await db.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM graphile_worker._private_jobs
      WHERE payload->>'inboundId' = ${inboundId}`
  )[0]!.n;

describe("dead letters", () => {
  it("refuses a retry while the runtime's queue does not exist, changing nothing", async () => {
    const id = await recordDeadLetter(db, { source: "INBOUND_JOB", reason: "r", traceId: "t-q" });
    expect(await refusal(retryDeadLetter(db, actor, { id }))).toBe("queue_missing");
    expect((await db.deadLetter.findUniqueOrThrow({ where: { id } })).status).toBe("OPEN");
    await runMigrations({ connectionString: tdb.url });
    // Its message is gone (no inbound row): refused, still OPEN.
    expect(await refusal(retryDeadLetter(db, actor, { id }))).toBe("gone");
    expect(await refusal(retryDeadLetter(db, actor, { id: "" }))).toBe("invalid_input");
    expect(await refusal(retryDeadLetter(db, actor, { id: "missing" }))).toBe("not_found");
  });

  it("retries an INGRESS letter by storing its payload and enqueuing its job, once, audited", async () => {
    const payload = {
      msgId: "m-ingress",
      createAt: 1,
      conversationType: "2",
      conversationId: "cid-x",
      senderId: "s",
      senderStaffId: "staff-9",
      msgtype: "text",
      text: { content: "hello" },
    };
    const letter = await db.deadLetter.create({
      data: {
        source: "INGRESS",
        reason: "not storable: boom",
        errorCode: "23514",
        traceId: "t-ingress",
        robotCode: "robot",
        msgId: "m-ingress",
        conversationId: "cid-x",
        channel: "STREAM",
        payload,
      },
    });
    expect((await listDeadLetters(db)).items.map((i) => i.id)).toContain(letter.id);
    const retried = await retryDeadLetter(db, actor, { id: letter.id });
    expect(retried).toMatchObject({ status: "RETRIED", retriedBy: actor.name });
    const inbound = await db.inboundMessage.findUniqueOrThrow({
      where: { robotCode_msgId: { robotCode: "robot", msgId: "m-ingress" } },
    });
    expect(inbound).toMatchObject({ channel: "STREAM", senderId: "staff-9", status: "RECEIVED", traceId: "t-ingress" });
    expect(await jobsFor(inbound.id)).toBe(1);
    expect(await refusal(retryDeadLetter(db, actor, { id: letter.id }))).toBe("already_retried");
    expect(await db.auditLog.count({ where: { action: "dead_letter.retry", targetId: letter.id } })).toBe(1);
    expect((await listDeadLetters(db)).items.map((i) => i.id)).not.toContain(letter.id);
    expect((await listDeadLetters(db, { status: "ALL" })).items.map((i) => i.id)).toContain(letter.id);
  });
});

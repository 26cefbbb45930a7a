/**
 * Text PostgreSQL cannot store (NUL, lone UTF-16 surrogates) from a user, a model or a tool,
 * end to end against real PostgreSQL: fake DingTalk -> ingress -> queue -> agent turn with a
 * scripted model -> reply -> memory. Every message is stored once and answered once, and what
 * is stored and sent differs from the input only by the storable rule. A job made to fail after
 * the model answered does not call the model again; one that fails the same way twice ends in a
 * dead letter, listed and retried through the CLI.
 */
import { storableText, unstorableCount } from "@clawgate/db";
import { hostileText } from "@clawgate/devstack/hostile-text";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cliEnv, query, runCli, waitFor } from "../test/helpers.ts";
import { TURN_FAILED_REPLY } from "./worker/handle-inbound.ts";
import { useBotHarness } from "../test/harness.ts";

/** Four conversations take turns: the outbound limit is per conversation (20 a minute). */
const PROPERTY_CONVERSATIONS = ["cid-u0", "cid-u1", "cid-u2", "cid-u3"];

const h = useBotHarness({
  name: "unicode",
  scriptedModel: true,
  internalApi: {
    articles: [
      {
        title: "hostile\u0000 title \ud800",
        url: "https://kb.example.internal/hostile",
        body: "binary \u0000\u0000 page \udfff with \u202e RTL 👩‍💻",
      },
    ],
  },
  // The scripted model is every conversation's model.
  seed: "scripted-model",
  ingress: true,
  policy: true,
  conversations: [...PROPERTY_CONVERSATIONS, "cid-tool", "cid-retry", "cid-dl", "cid-fb"],
  queue: { concurrency: 4 },
});

interface InboundRow {
  id: string;
  status: string;
  content: string;
  alteredChars: number;
  modelCalls: number;
  model: string | null;
  configRevision: number | null;
}

async function inbound(msgId: string, settled = true): Promise<InboundRow> {
  return waitFor(
    async () => {
      const [row] = await query<InboundRow>(
        h.testDb.url,
        `SELECT id, status, "payload"->'text'->>'content' AS content, "alteredChars", "modelCalls", "model", "configRevision"
           FROM "InboundMessage" WHERE "msgId" = $1`,
        [msgId],
      );
      return row && (!settled || (row.status !== "RECEIVED" && row.status !== "PROCESSING")) ? row : undefined;
    },
    15_000,
    `inbound ${msgId}`,
  );
}

const modelCallsFor = (marker: string) =>
  h.scripted.requests.filter((r) => JSON.stringify(r.messages.filter((m) => m.role === "user").at(-1)).includes(marker))
    .length;

/**
 * A real failure inside PostgreSQL: a trigger on `table` that raises `message` for each row
 * `condition` (SQL over NEW) holds. Dropped with `DROP TRIGGER <name> ON <table>`.
 */
async function injectFailure(
  name: string,
  event: "INSERT" | "UPDATE",
  table: string,
  condition: string,
  message: string,
) {
  await h.pool.query(`
    CREATE FUNCTION ${name}() RETURNS trigger AS $$
    BEGIN
      IF ${condition} THEN RAISE EXCEPTION '${message}'; END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql;
    CREATE TRIGGER ${name} BEFORE ${event} ON "${table}" FOR EACH ROW EXECUTE FUNCTION ${name}();`);
}

const hostile = hostileText({ minParts: 1, maxParts: 6 });

describe("text PostgreSQL cannot store", () => {
  it("stores every message once and answers it once; stored and sent text differ only by the rule", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(hostile, async (s) => {
        const conversationId = PROPERTY_CONVERSATIONS[n % PROPERTY_CONVERSATIONS.length]!;
        n += 1;
        const text = `ECHO [${s}]`;
        // A sender per message: the per-user request limit is not what this test is about.
        const { msgId, status } = await h.fake.deliver({ conversationId, text, senderId: `u-${n}` });
        expect(status).toBe(200);
        const [reply] = await h.fake.waitForReplies(conversationId, 1, 15_000);
        const row = await inbound(msgId);
        // DingTalk (and its fake) put a space before the text of an @-mention.
        expect(row.content).toBe(storableText(` ${text}`));
        expect(row.alteredChars).toBe(unstorableCount(text));
        expect(row.status).toBe("REPLIED");
        expect(row.modelCalls).toBe(1);
        // The conversation log shows which model answered and under which config revision.
        expect(row.model).toMatch(/^[^/]+\/.+$/);
        expect(row.configRevision).toEqual(expect.any(Number));
        // The model answered «text» + NUL + a lone surrogate: one reply, made storable.
        expect(reply!.text).toBe(`«[${storableText(s)}]»\ufffd`);
        const outbound = await query<{ n: number }>(
          h.testDb.url,
          `SELECT count(*)::int AS n FROM "OutboundMessage" WHERE "inboundMessageId" = $1`,
          [row.id],
        );
        expect(outbound[0]!.n).toBe(1);
      }),
      { numRuns: 30, endOnFailure: true },
    );
    // Memory holds the turns as stored, and nothing was answered twice.
    const memory = await query<{ recent: { role: string; content: string }[] }>(
      h.testDb.url,
      `SELECT m."recent" FROM "ConversationMemory" m JOIN "Conversation" c ON c.id = m."conversationId" WHERE c."conversationId" = $1`,
      [PROPERTY_CONVERSATIONS[0]],
    );
    expect(memory[0]!.recent.length).toBeGreaterThan(0);
    for (const turn of memory[0]!.recent) expect(turn.content).toBe(storableText(turn.content));
    for (const c of PROPERTY_CONVERSATIONS)
      await expect(h.fake.waitForReplies(c, 1, 300)).rejects.toThrow(/0 of 1 replies/);
  });

  it("a tool whose output holds NUL and lone surrogates: the turn completes and is answered", async () => {
    const { msgId } = await h.fake.deliver({
      conversationId: "cid-tool",
      text: 'CALL kb_search {"query":"hostile"}',
      senderId: "u-tool",
    });
    const [reply] = await h.fake.waitForReplies("cid-tool", 1, 15_000);
    expect(reply!.text).toContain("Result of kb_search");
    expect(reply!.text).toContain("hostile title \ufffd");
    expect(reply!.text).not.toContain("\u0000");
    const row = await inbound(msgId);
    expect(row).toMatchObject({ status: "REPLIED", modelCalls: 2 });
    const [invocation] = await query<{ outcome: string }>(
      h.testDb.url,
      `SELECT outcome FROM "SkillInvocation" WHERE "inboundMessageId" = $1`,
      [row.id],
    );
    expect(invocation?.outcome).toBe("SUCCESS");
  });

  it("a job that fails after the model answered does not call the model again when it is retried", async () => {
    // The reply's row cannot be written once (a real failure in PostgreSQL, after the model call;
    // a sequence, unlike a flag, is not rolled back with the failed insert).
    await h.pool.query(`CREATE SEQUENCE fail_once`);
    await injectFailure(
      "fail_reply_once",
      "INSERT",
      "OutboundMessage",
      `NEW."conversationId" = 'cid-retry' AND nextval('fail_once') = 1`,
      "injected: reply not stored",
    );
    const { msgId } = await h.fake.deliver({
      conversationId: "cid-retry",
      text: "ECHO [retry-marker]",
      senderId: "u-r",
    });
    const [reply] = await h.fake.waitForReplies("cid-retry", 1, 20_000);
    expect(reply!.text).toBe("«[retry-marker]»\ufffd");
    const row = await inbound(msgId);
    expect(row).toMatchObject({ status: "REPLIED", modelCalls: 1 });
    expect(modelCallsFor("retry-marker")).toBe(1);
    const [job] = await query<{ attempts: number }>(
      h.testDb.url,
      `SELECT count(*)::int AS attempts FROM "TurnStep" WHERE "inboundMessageId" = $1`,
      [row.id],
    );
    expect(job!.attempts).toBe(1); // the model's answer, stored once and replayed
  });

  it("a job that fails the same way twice is dead-lettered (visible, counted), and a retry from the CLI finishes it", async () => {
    await injectFailure(
      "refuse_replied",
      "UPDATE",
      "InboundMessage",
      `NEW."conversationId" = 'cid-dl' AND NEW.status = 'REPLIED'`,
      "injected: cannot finish",
    );
    const { msgId } = await h.fake.deliver({ conversationId: "cid-dl", text: "ECHO [dl-marker]", senderId: "u-dl" });
    await h.fake.waitForReplies("cid-dl", 1, 15_000);
    const row = await inbound(msgId);
    expect(row.status).toBe("FAILED");
    const [letter] = await query<{ id: string; source: string; reason: string; traceId: string; attempts: number }>(
      h.testDb.url,
      `SELECT id, source, reason, "traceId", attempts FROM "DeadLetter" WHERE "inboundMessageId" = $1`,
      [row.id],
    );
    expect(letter).toMatchObject({ source: "INBOUND_JOB", attempts: 2 });
    expect(letter!.reason).toBe("the same error twice: injected: cannot finish");
    expect((await h.metrics.deadLetters.get()).values.find((v) => v.labels.source === "INBOUND_JOB")?.value).toBe(1);
    h.metrics.openDeadLetters = () => h.db.deadLetter.count({ where: { status: "OPEN" } });
    expect(await h.metrics.registry.metrics()).toMatch(/^clawgate_dead_letters_open 1$/m);

    const env = cliEnv({ DATABASE_URL: h.testDb.url });
    const list = await runCli(["dead-letters", "list"], env);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain(letter!.id);
    expect(list.stdout).toContain(letter!.traceId);
    expect(list.stdout).toContain("the same error twice: injected: cannot finish");

    await h.pool.query(`DROP TRIGGER refuse_replied ON "InboundMessage"`);
    const retry = await runCli(["dead-letters", "retry", letter!.id], env);
    expect(retry.code, retry.stderr).toBe(0);
    expect((await inbound(msgId)).status).toBe("REPLIED");
    // The reply was already sent: the retry sends nothing more and calls no model.
    await expect(h.fake.waitForReplies("cid-dl", 1, 500)).rejects.toThrow();
    expect(modelCallsFor("dl-marker")).toBe(1);
    const again = await runCli(["dead-letters", "retry", letter!.id], env);
    expect(again.code).toBe(2); // a refusal (DomainError): exit 2
    expect(again.stderr).toMatch(/already retried/);
    const [audit] = await query<{ actorType: string }>(
      h.testDb.url,
      `SELECT "actorType" FROM "AuditLog" WHERE action = 'dead_letter.retry' AND "targetId" = $1`,
      [letter!.id],
    );
    expect(audit?.actorType).toBe("CLI");
  });

  it("a turn that fails the same way twice is dead-lettered and the user still gets an answer", async () => {
    // The turn's steps cannot be stored for this conversation: the turn fails after its model call.
    await injectFailure(
      "refuse_steps",
      "INSERT",
      "TurnStep",
      `EXISTS (SELECT 1 FROM "InboundMessage" WHERE id = NEW."inboundMessageId" AND "conversationId" = 'cid-fb')`,
      "injected: step not stored",
    );
    const { msgId } = await h.fake.deliver({ conversationId: "cid-fb", text: "ECHO [fb-marker]", senderId: "u-fb" });
    const [reply] = await h.fake.waitForReplies("cid-fb", 1, 20_000);
    expect(reply!.text).toBe(TURN_FAILED_REPLY);
    const row = await inbound(msgId);
    expect(row.status).toBe("FAILED");
    const [letter] = await query<{ reason: string; attempts: number }>(
      h.testDb.url,
      `SELECT reason, attempts FROM "DeadLetter" WHERE "inboundMessageId" = $1`,
      [row.id],
    );
    expect(letter).toEqual({ reason: "the same error twice: injected: step not stored", attempts: 2 });
    // Nothing could be stored to replay, so each of the two attempts asked the model once.
    expect(modelCallsFor("fb-marker")).toBe(2);
    const [sent] = await query<{ idempotencyKey: string }>(
      h.testDb.url,
      `SELECT "idempotencyKey" FROM "OutboundMessage" WHERE "inboundMessageId" = $1`,
      [row.id],
    );
    expect(sent?.idempotencyKey).toBe(`failed:${row.id}`);
  });
});

/**
 * Resilience and memory end to end, against real PostgreSQL, the demo model and the fake
 * internal API: circuit breakers (model, internal API), the turn deadline and "working on it",
 * conversation memory (recent turns, folding, the summary cap, concurrent turns), and the
 * route's max context (budgets, clipping). Breakers are process-wide: this file has its own
 * settings (3 failures, half-open after 1.5 s; a 2.5 s turn deadline; onSlow after 600 ms).
 */
import { recordConfigChange, type PolicySnapshot } from "@clawgate/core";
import { dataKeysOf, type Db } from "@clawgate/db";
import type OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { query, waitFor } from "../../test/helpers.ts";
import { untilApplied } from "../../test/policy.ts";
import { loadCatalog, DEFAULT_MAX_CONTEXT_TOKENS } from "./catalog.ts";
import { createAgent, MODEL_UNAVAILABLE_REPLY } from "./index.ts";
import { loadMemory, saveTurn } from "./memory.ts";
import { pgSql, prismaSql, type Sql } from "./sql.ts";
import { SUMMARY_HEADER } from "./prompt.ts";
import { contextLimits, countTokens, messageTokens } from "./tokens.ts";
import { useBotHarness } from "../../test/harness.ts";

const ACTOR = { type: "SYSTEM" as const, name: "test" };
const DEADLINE_MS = 2_500;
const WORKING_ON_IT_MS = 600;
const HALF_OPEN_MS = 1_500;
const FOLD_CONTEXT = 2_000;

const change = (action: string, fn: (tx: Parameters<Parameters<Db["$transaction"]>[0]>[0]) => Promise<unknown>) =>
  h.db.$transaction(async (tx) => {
    await fn(tx);
    return recordConfigChange(tx, { actor: ACTOR, action: "config.onboard", targetType: "test", summary: action });
  });

const h = useBotHarness({
  name: "resilience",
  demoModel: true,
  internalApi: true,
  seed: "demo-model",
  ingress: true,
  policy: true,
  conversations: ["cid-breaker", "cid-kb", "cid-slow", "cid-mem", "cid-fold", "cid-race", "cid-budget", "cid-approve"],
  // cid-fold has a small max context of its own (a CONVERSATION budget on its route).
  setup: async () => {
    await untilApplied(
      h.policy,
      await change("route.create", async (tx) => {
        const endpoint = await tx.modelEndpoint.findUniqueOrThrow({ where: { name: "local_chat" } });
        const budget = await tx.tokenBudget.create({
          data: { scope: "CONVERSATION", subject: "cid-fold", maxContextTokens: FOLD_CONTEXT },
        });
        const conv = await tx.conversation.findUniqueOrThrow({ where: { conversationId: "cid-fold" } });
        await tx.route.create({
          data: { conversationId: conv.id, modelEndpointId: endpoint.id, budgetId: budget.id },
        });
        await tx.skill.update({ where: { key: "ticket.create" }, data: { enabled: true } });
      }),
    );
  },
  queue: {
    // The worker's way: per-turn statements on a pg pool (limits.integration.test.ts covers the Prisma fallback).
    agent: () =>
      createAgent({
        db: h.db,
        pool: h.pool,
        settings: {
          turnDeadlineMs: DEADLINE_MS,
          workingOnItMs: WORKING_ON_IT_MS,
          breaker: { failures: 3, halfOpenAfterMs: HALF_OPEN_MS },
        },
      }),
  },
});

/** One message through the fake DingTalk, the queue and the agent; returns the answer (after any "working on it"). */
async function talk(conversationId: string, text: string): Promise<string> {
  const { status } = await h.fake.deliver({ conversationId, text, senderId: "user-1" });
  expect(status).toBe(200);
  for (;;) {
    const [reply] = await h.fake.waitForReplies(conversationId, 1, 20_000);
    // The worker sends its "working on it" message for turns slower than WORKING_ON_IT_MS.
    if (!/^working on it/i.test(reply!.text)) return reply!.text;
  }
}

/** One turn straight through the agent (what the worker does), with an onSlow counter. */
async function turn(conversationId: string, text: string) {
  const slow: number[] = [];
  const started = Date.now();
  const result = await h.agent.reply({
    text,
    conversationId,
    userId: "user-1",
    traceId: `trace-${conversationId}`,
    inboundId: null,
    snapshot: h.policy.snapshot() as PolicySnapshot,
    onSlow: async () => void slow.push(Date.now() - started),
  });
  const ms = Date.now() - started;
  // What the worker does before it finishes the job (the save runs beside the reply's send).
  expect(await result.remembered).toBeUndefined();
  return { result, slow, ms };
}

const chats = () => h.model.requests.filter((r) => r.path === "/v1/chat/completions");
const lastChat = () => chats().at(-1)!.body as { messages: OpenAI.ChatCompletionMessageParam[]; tools?: unknown[] };
const gauge = async (name: string) =>
  (await h.metrics.breakerOpen.get()).values.find((v) => v.labels.name === name)?.value;
const memoryRow = async (conversationId: string) =>
  (
    await query<{
      summary: string;
      recent: { role: string; content: string }[];
      tokens: number;
      turns: number;
      updatedAt: Date;
    }>(
      h.testDb.url,
      `SELECT m.summary, m.recent, m.tokens, m.turns, m."updatedAt" FROM "ConversationMemory" m JOIN "Conversation" c ON c.id = m."conversationId" WHERE c."conversationId" = $1`,
      [conversationId],
    )
  )[0];

describe("circuit breakers", () => {
  it("opens the model's breaker after failures: the next turn falls back without calling the model; a healthy trial closes it", async () => {
    h.model.setMode("error500");
    try {
      const before = chats().length;
      expect(await talk("cid-breaker", "hello")).toBe(MODEL_UNAVAILABLE_REPLY);
      expect(chats().length - before).toBe(3); // one attempt and two retries: three failures
      expect(await gauge("model:local_chat")).toBe(1);

      h.model.setMode("ok"); // healthy again, but the breaker does not know yet
      const refused = await turn("cid-breaker", "hello again");
      expect(refused.result).toMatchObject({
        text: MODEL_UNAVAILABLE_REPLY,
        outcome: "model_unavailable",
        error: "local_chat: circuit breaker open after repeated failures",
      });
      expect(await talk("cid-breaker", "and again")).toBe(MODEL_UNAVAILABLE_REPLY);
      expect(chats().length - before).toBe(3); // the demo model got no request
    } finally {
      h.model.setMode("ok");
    }
    await new Promise((r) => setTimeout(r, HALF_OPEN_MS + 100));
    expect(await talk("cid-breaker", "are you back?")).toContain("Demo model here");
    expect(await gauge("model:local_chat")).toBe(0);
    expect((await h.metrics.registry.metrics()).includes('clawgate_breaker_open{name="model:local_chat"} 0')).toBe(
      true,
    );
  });

  it("opens the internal API's breaker: its skills are withdrawn from the model, the user gets one line, an incident records it until it closes", async () => {
    const breaker = `internal_api:${h.api.url}`;
    const triggers = () => h.db.incidentTrigger.findMany({ where: { kind: "breaker", refId: breaker } });
    h.api.setFault({ mode: "error500" });
    try {
      for (const q of ["alpha", "beta", "gamma"])
        expect(await talk("cid-kb", `search the kb for ${q}`)).toContain("the internal API answered HTTP 500");
      const sent = h.api.requests.length;
      h.api.setFault(null);
      // Withdrawn: the model is not offered kb_search (nor the ticket skills behind the same API) and
      // the user hears why in one line; no request reaches the API.
      const text = await talk("cid-kb", "search the kb for vpn");
      const offered = (lastChat().tools ?? []) as Array<{ function: { name: string } }>;
      expect(offered.map((t) => t.function.name)).not.toContain("kb_search");
      expect(offered.map((t) => t.function.name)).not.toContain("ticket_create");
      const status = text.split("\n").filter((l) => l.startsWith("Temporarily unavailable:"));
      expect(status).toHaveLength(1);
      expect(status[0]).toContain("kb.search");
      expect(status[0]).toContain("an internal API is not answering");
      expect(status[0]).not.toContain(h.api.url);
      expect(h.api.requests.length).toBe(sent);
      expect(await gauge(breaker)).toBe(1);
      // Recorded once against an incident (in the background: the breaker never waits for the DB).
      await waitFor(async () => ((await triggers()).length === 1 ? true : undefined), 5_000, "the breaker trigger");
      const [open] = await triggers();
      expect(open).toMatchObject({ endedAt: null, actorName: "clawgate runtime" });
      expect((await h.db.incident.findUniqueOrThrow({ where: { id: open!.incidentId } })).status).toBe("OPEN");
    } finally {
      h.api.setFault(null);
    }
    await new Promise((r) => setTimeout(r, HALF_OPEN_MS + 100));
    // Due for a trial: offered again; the successful call closes the breaker and ends the trigger.
    const back = await talk("cid-kb", "search the kb for vpn");
    expect(back).toContain("VPN setup on macOS and Windows");
    expect(back).not.toContain("Temporarily unavailable");
    expect(await gauge(breaker)).toBe(0);
    await waitFor(async () => ((await triggers())[0]?.endedAt ? true : undefined), 5_000, "the trigger ended");
    const [ended] = await triggers();
    expect(await triggers()).toHaveLength(1);
    expect((await h.db.incident.findUniqueOrThrow({ where: { id: ended!.incidentId } })).status).toBe("NEEDS_REVIEW");
  });
});

describe("the turn deadline and 'working on it'", () => {
  it("answers a model slower than the deadline with the fallback, in time, calling onSlow once", async () => {
    // The endpoint's own timeout (30 s in the seed) is far longer than the turn's deadline.
    h.model.setMode("slow", { latencyMs: 10_000 });
    let outcome;
    try {
      outcome = await turn("cid-slow", "hello");
    } finally {
      h.model.setMode("ok");
    }
    expect(outcome.result).toMatchObject({ text: MODEL_UNAVAILABLE_REPLY, outcome: "model_unavailable" });
    expect(outcome.ms).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
    expect(outcome.ms).toBeLessThan(DEADLINE_MS + 1_500);
    expect(outcome.slow).toHaveLength(1);
    expect(outcome.slow[0]).toBeGreaterThanOrEqual(WORKING_ON_IT_MS - 50);
    await new Promise((r) => setTimeout(r, WORKING_ON_IT_MS + 200));
    expect(outcome.slow).toHaveLength(1); // never again, never after the turn
    // A fallback changes no memory.
    expect(await memoryRow("cid-slow")).toBeUndefined();
    // Through the worker too: the user hears back within the deadline, not the endpoint's 30 s.
    h.model.setMode("slow", { latencyMs: 10_000 });
    try {
      const started = Date.now();
      expect(await talk("cid-slow", "hello?")).toBe(MODEL_UNAVAILABLE_REPLY);
      expect(Date.now() - started).toBeLessThan(DEADLINE_MS + 3_000);
    } finally {
      h.model.setMode("ok");
    }
  });

  it("still names the approval requested before the deadline ran out", async () => {
    // The model asks for ticket.create at once, then is too slow for the answer (switched between the calls).
    let calls = 0;
    const slowSecond = createAgent({
      db: h.db,
      settings: {
        turnDeadlineMs: DEADLINE_MS,
        workingOnItMs: WORKING_ON_IT_MS,
        breaker: { failures: 3, halfOpenAfterMs: HALF_OPEN_MS },
      },
      modelSlots: {
        run: (_endpoint, _signal, fn) => {
          if (++calls === 2) h.model.setMode("slow", { latencyMs: 10_000 });
          return fn();
        },
      },
    });
    let result;
    try {
      result = await slowSecond.reply({
        text: "create a ticket in OPS: printer broken",
        conversationId: "cid-approve",
        userId: "user-1",
        traceId: "trace-approve",
        inboundId: null,
        snapshot: h.policy.snapshot() as PolicySnapshot,
      });
    } finally {
      h.model.setMode("ok");
    }
    expect(calls).toBe(2);
    expect(result).toMatchObject({ outcome: "model_unavailable", approvals: [expect.any(String)] });
    expect(result.text).toMatch(
      new RegExp(
        `^${MODEL_UNAVAILABLE_REPLY.replace(/[.]/g, "\\.")}\n\nThis action waits for approval; I will reply here once an approver has decided\\.`,
      ),
    );
    expect(result.text).not.toContain(result.approvals[0]); // one clear line, no internal id
    expect(
      await query(h.testDb.url, `SELECT status FROM "ApprovalRequest" WHERE id = $1`, [result.approvals[0]]),
    ).toEqual([{ status: "PENDING" }]);
  });

  it("never calls onSlow for a turn that finishes before WORKING_ON_IT_MS", async () => {
    const { result, slow } = await turn("cid-slow", "quick one");
    expect(result.outcome).toBe("answered");
    await new Promise((r) => setTimeout(r, WORKING_ON_IT_MS + 200));
    expect(slow).toEqual([]);
  });
});

describe("conversation memory", () => {
  it("sends the earlier turns with the next message, and keeps them in the database", async () => {
    const first = await talk("cid-mem", "my name is Ada");
    expect(first).toContain('You said: "my name is Ada"');
    await talk("cid-mem", "what is my name?");
    const sent = lastChat().messages;
    expect(sent.map((m) => m.role)).toEqual(["system", "user", "assistant", "user"]);
    expect(sent[1]).toEqual({ role: "user", content: "my name is Ada" });
    expect(sent[2]).toEqual({ role: "assistant", content: first });
    expect(sent[3]).toEqual({ role: "user", content: "what is my name?" });
    const row = await memoryRow("cid-mem");
    expect(row).toMatchObject({ summary: "", turns: 2 });
    expect(row!.recent.map((m) => m.content)).toEqual([
      "my name is Ada",
      first,
      "what is my name?",
      expect.stringContaining("what is my name?"),
    ]);
    expect(row!.tokens).toBe(row!.recent.reduce((n, m) => n + messageTokens(m), 0));
    // The demo model, asked, lists what the memory sent it.
    expect(await talk("cid-mem", "what did I tell you?")).toBe(
      'Demo model here. Earlier in this conversation you said: "my name is Ada"; "what is my name?".',
    );
  });

  it("does not change memory when the model is unavailable", async () => {
    const before = await memoryRow("cid-mem");
    h.model.setMode("down");
    try {
      expect(await talk("cid-mem", "are you there?")).toBe(MODEL_UNAVAILABLE_REPLY);
    } finally {
      h.model.setMode("ok");
    }
    expect(await memoryRow("cid-mem")).toEqual(before);
  });

  it("folds older turns into the summary over the route's max context, capped, and sends it", async () => {
    const limits = contextLimits(FOLD_CONTEXT);
    const long = (i: number) => `turn ${i}: ${Array.from({ length: 60 }, (_, k) => `word${k}`).join(" ")}`;
    for (let i = 0; i < 10; i++) expect((await turn("cid-fold", long(i))).result.outcome).toBe("answered");
    const row = (await memoryRow("cid-fold"))!;
    expect(row.turns).toBe(10);
    expect(row.recent.reduce((n, m) => n + messageTokens(m), 0)).toBeLessThanOrEqual(limits.recent);
    expect(row.recent.at(-2)!.content).toBe(long(9));
    const lines = row.summary.split("\n");
    expect(lines.length).toBeGreaterThan(0);
    expect(countTokens(row.summary)).toBeLessThanOrEqual(limits.summary);
    expect(row.summary).not.toContain("turn 0:"); // the oldest line went first
    expect(lines.every((l) => /^- User: turn \d+: word0 word1 .*… \| Assistant: .+$/.test(l))).toBe(true);
    const firstRecent = Number(/^turn (\d+):/.exec(row.recent[0]!.content)![1]);
    expect(lines.at(-1)).toMatch(new RegExp(`^- User: turn ${firstRecent - 1}:`));

    // The next request carries the summary and fits the route's max context.
    await turn("cid-fold", "and now?");
    const sent = lastChat();
    expect(sent.messages[1]).toMatchObject({ role: "system", content: expect.stringContaining(SUMMARY_HEADER) });
    const tokens =
      sent.messages.reduce((n, m) => n + messageTokens(m), 0) + countTokens(JSON.stringify(sent.tools ?? []));
    expect(tokens).toBeLessThanOrEqual(limits.prompt);
  });

  it("clips a message too long for the route's max context and tells the model so", async () => {
    const huge = Array.from({ length: 4_000 }, (_, k) => `w${k}`).join(" ");
    const { result } = await turn("cid-fold", huge);
    expect(result.outcome).toBe("answered");
    const user = String(lastChat().messages.at(-1)!.content);
    expect(user).toMatch(
      /\[Clawgate: this message was too long for the model's context and was cut after \d+ of its \d+ tokens/,
    );
    expect(huge.startsWith(user.slice(0, user.indexOf("\n\n[Clawgate:")))).toBe(true);
    expect(countTokens(user)).toBeLessThan(FOLD_CONTEXT / 2);
  });

  it("keeps every turn when turns of one conversation save at once", async () => {
    const limits = contextLimits(DEFAULT_MAX_CONTEXT_TOKENS);
    // Each turn loaded the memory before any of them saved (as turns running side by side do).
    const sql = pgSql(h.pool, dataKeysOf(h.db));
    const loaded = await loadMemory(sql, "cid-race");
    await Promise.all(
      Array.from({ length: 8 }, (_, i) => saveTurn(sql, "cid-race", loaded, `question ${i}`, `answer ${i}`, limits)),
    );
    const row = (await memoryRow("cid-race"))!;
    expect(row.turns).toBe(8);
    const questions = row.recent.filter((m) => m.role === "user").map((m) => m.content);
    expect(questions.sort()).toEqual(Array.from({ length: 8 }, (_, i) => `question ${i}`));
    // Each answer right after its question: turns are appended whole.
    for (let i = 0; i < row.recent.length; i += 2)
      expect(row.recent[i + 1]!.content).toBe(row.recent[i]!.content.replace("question", "answer"));
    // And again on the existing row, from a state loaded before both saves.
    // Through Prisma's raw queries this time (an agent made without a pool).
    const viaPrisma: Sql = prismaSql(h.db);
    const stale = await loadMemory(viaPrisma, "cid-race");
    await Promise.all([
      saveTurn(viaPrisma, "cid-race", stale, "question x", "answer x", limits),
      saveTurn(sql, "cid-race", stale, "question y", "answer y", limits),
    ]);
    const after = (await memoryRow("cid-race"))!;
    expect(after.turns).toBe(10);
    expect(after.recent.slice(0, 16)).toEqual(row.recent);
    expect(
      after.recent
        .slice(16)
        .map((m) => m.content)
        .sort(),
    ).toEqual(["answer x", "answer y", "question x", "question y"]);
  });

  it("does not save memory for a conversation the database does not know", async () => {
    for (const sql of [pgSql(h.pool, dataKeysOf(h.db)), prismaSql(h.db)])
      await saveTurn(
        sql,
        "cid-unknown",
        await loadMemory(sql, "cid-unknown"),
        "q",
        "a",
        contextLimits(DEFAULT_MAX_CONTEXT_TOKENS),
      );
    expect(
      await query(
        h.testDb.url,
        `SELECT 1 FROM "ConversationMemory" m JOIN "Conversation" c ON c.id = m."conversationId" WHERE c."conversationId" = 'cid-unknown'`,
      ),
    ).toEqual([]);
  });
});

describe("max context per route", () => {
  it("is the route's budget, else the DEFAULT budget's, else 8,192", async () => {
    const revision = h.policy.snapshot()!.revision;
    let catalog = await loadCatalog(h.db, revision);
    expect(catalog.route("cid-fold")!.maxContextTokens).toBe(FOLD_CONTEXT);
    expect(catalog.route("cid-budget")!.maxContextTokens).toBe(8_000); // the seed's DEFAULT budget
    // The default route without a budget of its own: the DEFAULT budget still applies.
    await h.db.route.updateMany({ where: { isDefault: true }, data: { budgetId: null } });
    catalog = await loadCatalog(h.db, revision);
    expect(catalog.route("cid-budget")!.maxContextTokens).toBe(8_000);
    await h.db.tokenBudget.update({
      where: { scope_subject: { scope: "DEFAULT", subject: "" } },
      data: { maxContextTokens: null },
    });
    catalog = await loadCatalog(h.db, revision);
    expect(catalog.route("cid-budget")!.maxContextTokens).toBe(DEFAULT_MAX_CONTEXT_TOKENS);
    expect(catalog.route("cid-fold")!.maxContextTokens).toBe(FOLD_CONTEXT);
  });
});

/**
 * The agent loop end to end: fake DingTalk -> ingress -> queue -> policy -> the demo model with
 * the allowed skills as tools -> skills against the fake internal API -> reply. A second,
 * scripted model (routed to one conversation) calls tools it was not offered, to show refusals.
 */
import { recordConfigChange } from "@clawgate/core";
import type { Db } from "@clawgate/db";
import { describe, expect, it } from "vitest";
import { query, waitFor } from "../../test/helpers.ts";
import { setSafeMode, untilApplied } from "../../test/policy.ts";
import { MODEL_UNAVAILABLE_REPLY, NO_MODEL_REPLY } from "./index.ts";
import { useBotHarness } from "../../test/harness.ts";

const ACTOR = { type: "SYSTEM" as const, name: "test" };

const change = (action: string, fn: (tx: Parameters<Parameters<Db["$transaction"]>[0]>[0]) => Promise<unknown>) =>
  h.db.$transaction(async (tx) => {
    await fn(tx);
    return recordConfigChange(tx, { actor: ACTOR, action: "config.onboard", targetType: "test", summary: action });
  });

const h = useBotHarness({
  name: "agent",
  demoModel: true,
  scriptedModel: true,
  internalApi: true,
  seed: "demo-model",
  ingress: true,
  policy: true,
  conversations: ["cid-kb", "cid-deny", "cid-ticket", "cid-ro", "cid-down", "cid-again", "cid-types"],
  // cid-deny talks to the scripted model and may not search the KB.
  setup: async () => {
    await untilApplied(
      h.policy,
      await change("route.create", async (tx) => {
        const endpoint = await tx.modelEndpoint.create({
          data: { name: "scripted", baseUrl: h.scripted.url, model: "scripted", timeoutMs: 5_000 },
        });
        const conv = await tx.conversation.findUniqueOrThrow({ where: { conversationId: "cid-deny" } });
        await tx.route.create({ data: { conversationId: conv.id, modelEndpointId: endpoint.id } });
        await tx.skillRule.create({
          data: { skillKey: "kb.search", scope: "CONVERSATION", subject: "cid-deny", effect: "DENY" },
        });
        await tx.skill.update({ where: { key: "ticket.create" }, data: { enabled: true } });
      }),
    );
  },
  queue: true,
});

/** Delivers one message; returns the reply, the inbound row (id, final status) and the time taken. */
async function talk(
  conversationId: string,
  text: string,
  typed?: { msgtype: string; content: Record<string, unknown> },
) {
  const started = Date.now();
  const { msgId, status } = await h.fake.deliver({
    conversationId,
    text,
    senderId: "user-1",
    ...(typed ? { typed } : {}),
  });
  expect(status).toBe(200);
  const [reply] = await h.fake.waitForReplies(conversationId, 1, 20_000);
  const inbound = await waitFor(
    async () => {
      const [row] = await query<{ id: string; status: string }>(
        h.testDb.url,
        `SELECT id, status FROM "InboundMessage" WHERE "msgId" = $1`,
        [msgId],
      );
      return row && row.status !== "RECEIVED" && row.status !== "PROCESSING" ? row : undefined;
    },
    5_000,
    "inbound handled",
  );
  return { text: reply!.text, inbound, ms: Date.now() - started };
}

const invocations = (inboundId: string) =>
  query<Record<string, unknown>>(
    h.testDb.url,
    `SELECT "skillKey", decision, reasons, outcome, "cacheHit", error, "traceId", "configRevision", "conversationId", "userId"
       FROM "SkillInvocation" WHERE "inboundMessageId" = $1 ORDER BY "createdAt"`,
    [inboundId],
  );

const counted = async (name: "toolCalls" | "agentTurns", labels: Record<string, string>) =>
  (await h.metrics[name].get()).values.find((v) =>
    Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l),
  )?.value ?? 0;

const offeredNames = (body: { tools?: { function?: { name?: string } }[] }) =>
  (body.tools ?? []).map((t) => t.function?.name);
const lastChatRequest = () =>
  h.model.requests.filter((r) => r.path === "/v1/chat/completions").at(-1)?.body as Parameters<typeof offeredNames>[0];

describe("the agent loop", () => {
  it("runs kb.search against the internal API and answers with the article", async () => {
    const { text, inbound } = await talk("cid-kb", "search the kb for vpn");
    expect(text).toContain("VPN setup on macOS and Windows");
    expect(inbound.status).toBe("REPLIED");
    expect(h.api.requests.some((r) => r.path === "/kb/search" && r.query.q === "vpn")).toBe(true);
    const [row] = await invocations(inbound.id);
    expect(row).toMatchObject({
      skillKey: "kb.search",
      decision: "ALLOW",
      reasons: [],
      outcome: "SUCCESS",
      cacheHit: false,
      error: null,
      conversationId: "cid-kb",
      userId: "user-1",
    });
    expect(row!.configRevision).toBe(h.policy.snapshot()!.revision);
    // The invocation's trace id is the message's, and the one the model and the internal API received.
    const [stored] = await query<{ traceId: string }>(
      h.testDb.url,
      `SELECT "traceId" FROM "InboundMessage" WHERE id = $1`,
      [inbound.id],
    );
    expect(row!.traceId).toBe(stored!.traceId);
    const sent = new RegExp(`^00-${stored!.traceId}-[0-9a-f]{16}-01$`);
    expect(h.api.requests.find((r) => r.path === "/kb/search")?.traceparent).toMatch(sent);
    const chats = h.model.requests.filter((r) => r.path === "/v1/chat/completions" && sent.test(r.traceparent ?? ""));
    expect(chats).toHaveLength(2);
    expect(await counted("toolCalls", { skill: "kb.search", decision: "ALLOW", outcome: "SUCCESS" })).toBe(1);
    // Model latency and tokens, by endpoint.
    const calls = (await h.metrics.modelDuration.get()).values.find(
      (v) => v.metricName === "clawgate_model_request_duration_seconds_count" && v.labels.outcome === "ok",
    );
    expect(calls?.value).toBeGreaterThanOrEqual(2);
    const tokens = (await h.metrics.modelTokens.get()).values.filter((v) => v.value > 0);
    expect(tokens.map((v) => v.labels.kind).sort()).toEqual(["completion", "prompt"]);
    expect(offeredNames(lastChatRequest())).toEqual(
      expect.arrayContaining(["kb_search", "ticket_create", "help", "status"]),
    );
    // The same search again is served from the process's skill cache.
    const again = await talk("cid-kb", "search the kb for vpn");
    expect(again.text).toContain("VPN setup on macOS and Windows");
    expect(await invocations(again.inbound.id)).toMatchObject([
      { skillKey: "kb.search", outcome: "SUCCESS", cacheHit: true },
    ]);
  });

  it("reads rich text and voice messages, and answers a message type it does not know instead of refusing it", async () => {
    const lastUserText = () =>
      String((lastChatRequest() as { messages: { role: string; content: unknown }[] }).messages.at(-1)!.content);
    const rich = await talk("cid-types", "", {
      msgtype: "richText",
      content: { richText: [{ text: "is this broken?" }, { type: "picture", downloadCode: "dc1" }] },
    });
    expect(lastUserText()).toBe("is this broken?\n[The message also has a picture, which the robot cannot see yet.]");
    expect(rich.text).toContain('You said: "is this broken?');
    expect(rich.inbound.status).toBe("REPLIED");

    // A voice message is its transcript: the demo model recognises the request in it.
    const voice = await talk("cid-types", "", {
      msgtype: "audio",
      content: { downloadCode: "dc2", duration: 3000, recognition: "search the kb for vpn" },
    });
    expect(voice.text).toContain("VPN setup on macOS and Windows");

    const card = await talk("cid-types", "", { msgtype: "interactiveCard", content: { cardData: {} } });
    expect(lastUserText()).toBe("[The user sent an interactiveCard message, which the robot cannot read yet.]");
    expect(card.text).toContain("cannot read yet");
    expect(card.inbound.status).toBe("REPLIED");
  });

  it("refuses a denied skill, tells the model why, records the reason and still answers", async () => {
    const { text, inbound } = await talk("cid-deny", 'CALL kb_search {"query":"vpn"}');
    expect(offeredNames(h.scripted.requests[0]!)).not.toContain("kb_search");
    const toolMessage = h.scripted.requests[1]!.messages.at(-1)!;
    expect(toolMessage).toMatchObject({ role: "tool" });
    expect(String(toolMessage.content)).toContain("denied in this conversation by a rule");
    expect(text).toContain("denied in this conversation by a rule");
    expect(inbound.status).toBe("REPLIED");
    expect(await invocations(inbound.id)).toMatchObject([
      { skillKey: "kb.search", decision: "DENY", reasons: ["rule.deny.conversation"], outcome: "DENIED" },
    ]);
    expect(h.api.requests.filter((r) => r.path === "/kb/search")).toHaveLength(1); // only the first test's
  });

  it("asks an approver for ticket.create instead of creating the ticket, and says so", async () => {
    const tickets = h.api.tickets.size;
    const { text, inbound } = await talk("cid-ticket", "create a ticket in OPS: printer broken");
    expect(text.toLowerCase()).toContain("waits for approval");
    expect(inbound.status).toBe("REPLIED");
    const approvals = await query<Record<string, unknown>>(
      h.testDb.url,
      `SELECT a.status, a.input, a."requesterId", a."conversationId", a."configRevision", a."expiresAt" - a."createdAt" = interval '30 minutes' AS "defaultExpiry", length(a."bindingHash") = 64 AS bound,
              a."traceId" = i."traceId" AS "sameTrace", a."invocationId" IS NOT NULL AS linked
         FROM "ApprovalRequest" a JOIN "InboundMessage" i ON i.id = $1 WHERE a."skillKey" = 'ticket.create'`,
      [inbound.id],
    );
    expect(approvals).toEqual([
      {
        status: "PENDING",
        input: { project: "OPS", title: "printer broken", body: "" },
        requesterId: "user-1",
        conversationId: "cid-ticket",
        configRevision: h.policy.snapshot()!.revision,
        defaultExpiry: true,
        bound: true,
        sameTrace: true,
        linked: true,
      },
    ]);
    // One clear line, without the internal request id.
    expect(text).not.toContain(
      String((await query<{ id: string }>(h.testDb.url, `SELECT id FROM "ApprovalRequest"`))[0]!.id),
    );
    expect(text.match(/approv/gi)).toHaveLength(2); // "waits for approval ... an approver"
    expect(await invocations(inbound.id)).toMatchObject([
      {
        skillKey: "ticket.create",
        decision: "NEEDS_APPROVAL",
        reasons: ["approval.required"],
        outcome: "PENDING_APPROVAL",
      },
    ]);
    expect(h.api.tickets.size).toBe(tickets);
    expect(h.api.requests.filter((r) => r.method === "POST")).toEqual([]);
  });

  it("resends the stored reply when the job runs again (DingTalk throttled it), without a second turn", async () => {
    const chats = () => h.model.requests.filter((r) => r.path === "/v1/chat/completions").length;
    const before = chats();
    h.fake.setThrottle(0);
    const { msgId } = await h.fake.deliver({
      conversationId: "cid-again",
      text: "create a ticket in OPS: printer on fire",
      senderId: "user-1",
    });
    try {
      await waitFor(
        async () => {
          const rows = await query<{ attempts: number }>(
            h.testDb.url,
            `SELECT o.attempts FROM "OutboundMessage" o JOIN "InboundMessage" i ON i.id = o."inboundMessageId" WHERE i."msgId" = $1`,
            [msgId],
          );
          return rows[0]?.attempts === 1 ? true : undefined;
        },
        10_000,
        "first send throttled",
      );
    } finally {
      h.fake.setThrottle(undefined);
    }
    const [reply] = await h.fake.waitForReplies("cid-again", 1, 20_000);
    expect(reply!.text.toLowerCase()).toContain("waits for approval");
    expect(chats() - before).toBe(2); // one turn: the tool call and the answer
    expect(
      await query(h.testDb.url, `SELECT status FROM "ApprovalRequest" WHERE "conversationId" = 'cid-again'`),
    ).toEqual([{ status: "PENDING" }]);
  });

  it("in READ_ONLY safe mode refuses ticket.create with the safe-mode message, and creates no approval", async () => {
    await untilApplied(h.policy, await setSafeMode(h.db, { level: "READ_ONLY" }));
    try {
      const { text, inbound } = await talk("cid-ro", "create a ticket in OPS: printer broken");
      // Offered, so the user asking for a write hears that safe mode is on instead of a plain answer.
      expect(offeredNames(lastChatRequest())).toEqual(expect.arrayContaining(["ticket_create", "kb_search"]));
      expect(text.toLowerCase()).not.toContain("waits for approval");
      expect(text).toContain("Safe mode is on");
      expect(text).toContain("only read-only skills run");
      expect(await invocations(inbound.id)).toMatchObject([
        { skillKey: "ticket.create", decision: "DENY", reasons: ["safe_mode.read_only"], outcome: "DENIED" },
      ]);

      const forced = await talk("cid-deny", 'CALL ticket_create {"project":"OPS","title":"printer broken"}');
      expect(forced.text).toContain("only read-only skills run");
      expect(await invocations(forced.inbound.id)).toMatchObject([
        { skillKey: "ticket.create", decision: "DENY", reasons: ["safe_mode.read_only"], outcome: "DENIED" },
      ]);
      expect(
        await query(
          h.testDb.url,
          `SELECT 1 FROM "ApprovalRequest" WHERE "conversationId" NOT IN ('cid-ticket', 'cid-again')`,
        ),
      ).toEqual([]);
    } finally {
      await untilApplied(h.policy, await setSafeMode(h.db, null));
    }
  });

  it("stops offering tools after the route's maxToolRounds and takes the text answer", async () => {
    const before = h.scripted.requests.length;
    const { text, inbound } = await talk("cid-deny", "LOOP help {}");
    const requests = h.scripted.requests.slice(before);
    expect(requests.map((r) => (r.tools?.length ?? 0) > 0)).toEqual([true, true, true, true, false]);
    expect(text).toContain("Result of help");
    const rows = await invocations(inbound.id);
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => r.skillKey === "help" && r.decision === "ALLOW" && r.outcome === "SUCCESS")).toBe(true);
  });

  it("answers with the fallback when the model is slower than the endpoint's timeout", async () => {
    const timeout = (ms: number) =>
      change("model.update", (tx) =>
        tx.modelEndpoint.updateMany({ where: { name: "local_chat" }, data: { timeoutMs: ms } }),
      );
    await untilApplied(h.policy, await timeout(1_000));
    h.model.setMode("slow", { latencyMs: 10_000 });
    try {
      const { text, ms } = await talk("cid-down", "hello");
      expect(text).toBe(MODEL_UNAVAILABLE_REPLY);
      expect(ms).toBeLessThan(5_000);
    } finally {
      h.model.setMode("ok");
      await untilApplied(h.policy, await timeout(30_000));
    }
  });

  it("follows route changes at the next revision: no usable model -> says so; back -> answers", async () => {
    const toggle = (enabled: boolean) =>
      change("model.update", (tx) => tx.modelEndpoint.updateMany({ where: { name: "local_chat" }, data: { enabled } }));
    await untilApplied(h.policy, await toggle(false));
    try {
      expect(await talk("cid-down", "hello")).toMatchObject({ text: NO_MODEL_REPLY, inbound: { status: "REPLIED" } });
    } finally {
      await untilApplied(h.policy, await toggle(true));
    }
    expect((await talk("cid-down", "hello")).text).toContain("Demo model here");
  });

  it.each(["error500", "down"] as const)(
    "answers with the fallback when the model is %s, in time and without a crash",
    async (mode) => {
      h.model.setMode(mode);
      const calls = h.model.requests.length;
      const unavailable = await counted("agentTurns", { outcome: "model_unavailable" });
      try {
        const { text, inbound, ms } = await talk("cid-down", "search the kb for vpn");
        expect(text).toBe(MODEL_UNAVAILABLE_REPLY);
        expect(inbound.status).toBe("REPLIED");
        expect(ms).toBeLessThan(20_000);
        expect(await counted("agentTurns", { outcome: "model_unavailable" })).toBe(unavailable + 1);
        // 500s are retried twice; a connection that drops is not retried.
        expect(h.model.requests.length - calls).toBe(mode === "error500" ? 3 : 1);
      } finally {
        h.model.setMode("ok");
      }
      expect((await talk("cid-down", "hello")).text).toContain("Demo model here");
    },
  );
});

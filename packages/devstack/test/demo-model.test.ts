/**
 * The demo model through the official `openai` SDK, the client the runtime uses: if the SDK
 * parses it, the runtime will.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import OpenAI from "openai";
import type { ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import { afterEach, describe, expect, it } from "vitest";
import { skillKeyOf, startDemoModel, toolName, type DemoModel } from "../src/demo-model.ts";

const KEY = "demo-test-key";
const SKILLS = ["help", "status", "kb.search", "ticket.lookup", "ticket.create", "group.announce", "http.fetch"];
const TOOLS: ChatCompletionTool[] = SKILLS.map((key) => ({
  type: "function",
  function: { name: toolName(key), description: key, parameters: { type: "object", properties: {} } },
}));

let model: DemoModel | undefined;
afterEach(async () => {
  await model?.close();
  model = undefined;
});

async function start(opts: { apiKey?: string; latencyMs?: number } = { apiKey: KEY }) {
  model = await startDemoModel({ port: 0, ...opts });
  const client = new OpenAI({ baseURL: model.url, apiKey: opts.apiKey ?? "unused", maxRetries: 0, timeout: 5_000 });
  return { model, client };
}

const user = (content: string): ChatCompletionMessageParam[] => [
  { role: "system", content: "You are the Clawgate robot." },
  { role: "user", content },
];

describe("tool names", () => {
  it("maps dotted skill keys to OpenAI function names and back", () => {
    expect(SKILLS.map(toolName)).toEqual([
      "help",
      "status",
      "kb_search",
      "ticket_lookup",
      "ticket_create",
      "group_announce",
      "http_fetch",
    ]);
    for (const key of SKILLS) expect(skillKeyOf(toolName(key), SKILLS)).toBe(key);
    expect(skillKeyOf("kb.search", SKILLS)).toBe("kb.search");
    expect(skillKeyOf("rm_rf", SKILLS)).toBeUndefined();
    // Without the known keys the reverse is a guess: "_" inside a segment is ambiguous.
    expect(skillKeyOf("kb_search")).toBe("kb.search");
  });
});

describe("answers", () => {
  it("lists its model and gives a deterministic plain answer in the OpenAI shape", async () => {
    const { client } = await start();
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(["clawgate-demo"]);

    const a = await client.chat.completions.create({ model: "clawgate-demo", messages: user("hello there") });
    const b = await client.chat.completions.create({ model: "clawgate-demo", messages: user("hello there") });
    expect(a.object).toBe("chat.completion");
    expect(a.model).toBe("clawgate-demo");
    expect(a.choices[0]!.finish_reason).toBe("stop");
    expect(a.choices[0]!.message).toMatchObject({
      role: "assistant",
      content: 'Demo model here. You said: "hello there"',
    });
    expect(b.choices[0]!.message.content).toBe(a.choices[0]!.message.content);
    expect(a.id).not.toBe(b.id);
    expect(a.usage).toEqual({
      prompt_tokens: b.usage!.prompt_tokens,
      completion_tokens: b.usage!.completion_tokens,
      total_tokens: b.usage!.total_tokens,
    });
    expect(a.usage!.total_tokens).toBe(a.usage!.prompt_tokens + a.usage!.completion_tokens);
    expect(a.usage!.prompt_tokens).toBeGreaterThan(0);
  });

  const cases: [string, string, Record<string, unknown>][] = [
    ["help please", "help", {}],
    ["what is your status?", "status", {}],
    ["search the knowledge base for VPN setup", "kb.search", { query: "VPN setup" }],
    ["search kb for printer", "kb.search", { query: "printer" }],
    ["kb onboarding checklist", "kb.search", { query: "onboarding checklist" }],
    ["what's up with OPS-123?", "ticket.lookup", { ticketId: "OPS-123" }],
    ["create a ticket in OPS: printer on fire", "ticket.create", { project: "OPS", title: "printer on fire" }],
    ["announce: deploy at 5pm", "group.announce", { title: "Announcement", text: "deploy at 5pm" }],
    [
      "announce in cid-ops: deploy at 5pm",
      "group.announce",
      { conversationId: "cid-ops", title: "Announcement", text: "deploy at 5pm" },
    ],
    ["fetch https://wiki.internal/page?id=1", "http.fetch", { url: "https://wiki.internal/page?id=1" }],
  ];

  it.each(cases)("%s -> a %s tool call when the tool is offered", async (text, skill, args) => {
    const { client } = await start();
    const res = await client.chat.completions.create({ model: "clawgate-demo", messages: user(text), tools: TOOLS });
    const choice = res.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls![0]!;
    expect(call.type).toBe("function");
    if (call.type !== "function") return;
    expect(call.id).toMatch(/^call_/);
    expect(skillKeyOf(call.function.name, SKILLS)).toBe(skill);
    expect(JSON.parse(call.function.arguments)).toEqual(args);
  });

  it.each(cases)("%s -> a plain answer when no tools are offered", async (text) => {
    const { client } = await start();
    const res = await client.chat.completions.create({ model: "clawgate-demo", messages: user(text) });
    expect(res.choices[0]!.finish_reason).toBe("stop");
    expect(res.choices[0]!.message.tool_calls).toBeUndefined();
    expect(res.choices[0]!.message.content).toContain(text.slice(0, 20));
  });

  it("calls only a tool the request offers, under the name it was offered", async () => {
    const { client } = await start();
    const dotted: ChatCompletionTool[] = [{ type: "function", function: { name: "kb.search", parameters: {} } }];
    const res = await client.chat.completions.create({
      model: "m",
      messages: user("help me with OPS-7"),
      tools: dotted,
    });
    expect(res.choices[0]!.message.tool_calls).toBeUndefined();
    const kb = await client.chat.completions.create({ model: "m", messages: user("kb vpn"), tools: dotted });
    const call = kb.choices[0]!.message.tool_calls![0]!;
    expect(call.type === "function" && call.function.name).toBe("kb.search");
  });

  it("answers 'what did I say?' from the earlier turns and summary lines the request carries", async () => {
    const { client } = await start();
    const first = await client.chat.completions.create({
      model: "m",
      messages: user("what did I tell you?"),
      tools: TOOLS,
    });
    expect(first.choices[0]!.message.content).toBe(
      "Demo model here. This is the first thing you have told me in this conversation.",
    );
    const messages: ChatCompletionMessageParam[] = [
      { role: "system", content: "You are the Clawgate robot." },
      {
        role: "system",
        content:
          "Earlier in this conversation (oldest first, one line per turn):\n- User: my name is Ada | Assistant: Hello Ada\n- User: I work in ops… | Assistant: Noted",
      },
      { role: "user", content: "search the kb for vpn" },
      { role: "assistant", content: "VPN setup ..." },
      { role: "user", content: "What did I say before?" },
    ];
    const res = await client.chat.completions.create({ model: "m", messages, tools: TOOLS });
    expect(res.choices[0]!.message.content).toBe(
      'Demo model here. Earlier in this conversation you said: "my name is Ada"; "I work in ops…"; "search the kb for vpn".',
    );
  });

  it("summarises a tool result deterministically", async () => {
    const { client } = await start();
    const messages: ChatCompletionMessageParam[] = [
      ...user("kb vpn"),
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_1", type: "function", function: { name: "kb_search", arguments: '{"query":"vpn"}' } }],
      },
      { role: "tool", tool_call_id: "call_1", content: JSON.stringify({ articles: [{ title: "VPN setup" }] }) },
    ];
    const res = await client.chat.completions.create({ model: "m", messages, tools: TOOLS });
    expect(res.choices[0]!.finish_reason).toBe("stop");
    expect(res.choices[0]!.message.content).toBe('Result of kb_search: {"articles":[{"title":"VPN setup"}]}');
  });

  it("streams the same answer as SSE chunks, with usage when asked", async () => {
    const { client } = await start();
    const text = await client.chat.completions.create({
      model: "m",
      messages: user("hello stream"),
      stream: true,
      stream_options: { include_usage: true },
    });
    let content = "";
    let usage: OpenAI.CompletionUsage | undefined;
    let finish: string | null | undefined;
    for await (const chunk of text) {
      content += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(content).toBe('Demo model here. You said: "hello stream"');
    expect(finish).toBe("stop");
    expect(usage!.total_tokens).toBeGreaterThan(0);

    const tool = client.chat.completions.stream({ model: "m", messages: user("OPS-9"), tools: TOOLS });
    const final = await tool.finalChatCompletion();
    const call = final.choices[0]!.message.tool_calls![0]!;
    expect(call.type === "function" && [call.function.name, JSON.parse(call.function.arguments)]).toEqual([
      "ticket_lookup",
      { ticketId: "OPS-9" },
    ]);
  });

  it("records the requests it received", async () => {
    const { client, model } = await start();
    await client.chat.completions.create({ model: "m", messages: user("hi") });
    expect(model.requests.at(-1)).toMatchObject({ method: "POST", path: "/v1/chat/completions", body: { model: "m" } });
  });
});

describe("auth", () => {
  it("rejects a missing or wrong bearer key with 401", async () => {
    const { model } = await start();
    const wrong = new OpenAI({ baseURL: model.url, apiKey: "nope", maxRetries: 0 });
    await expect(wrong.models.list()).rejects.toMatchObject({ status: 401 });
    await expect(wrong.chat.completions.create({ model: "m", messages: user("hi") })).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
    expect((await fetch(`${model.url}/models`)).status).toBe(401);
  });

  it("needs no key when started without one", async () => {
    const { client } = await start({});
    expect((await client.models.list()).data).toHaveLength(1);
  });
});

describe("fault modes", () => {
  it("error500: the SDK sees a 500", async () => {
    const { client, model } = await start();
    model.setMode("error500");
    await expect(client.chat.completions.create({ model: "m", messages: user("hi") })).rejects.toBeInstanceOf(
      OpenAI.InternalServerError,
    );
  });

  it("rate_limited: a 429 with retry-after", async () => {
    const { client, model } = await start();
    model.setMode("rate_limited");
    const error = await client.chat.completions.create({ model: "m", messages: user("hi") }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers.get("retry-after")).toBe("1");
  });

  it("slow: the SDK times out; back to ok answers again", async () => {
    const { model } = await start();
    model.setMode("slow", { latencyMs: 2_000 });
    const impatient = new OpenAI({ baseURL: model.url, apiKey: KEY, maxRetries: 0, timeout: 300 });
    await expect(impatient.chat.completions.create({ model: "m", messages: user("hi") })).rejects.toBeInstanceOf(
      OpenAI.APIConnectionTimeoutError,
    );
    model.setMode("ok");
    expect(
      (await impatient.chat.completions.create({ model: "m", messages: user("hi") })).choices[0]!.finish_reason,
    ).toBe("stop");
  });

  it("down: the connection is dropped", async () => {
    const { client, model } = await start();
    model.setMode("down");
    await expect(client.chat.completions.create({ model: "m", messages: user("hi") })).rejects.toBeInstanceOf(
      OpenAI.APIConnectionError,
    );
  });

  it("POST /_demo/mode switches modes over HTTP and refuses unknown ones", async () => {
    const { client, model } = await start();
    const control = (body: unknown) =>
      fetch(model.url.replace(/\/v1$/, "/_demo/mode"), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect((await control({ mode: "sideways" })).status).toBe(400);
    const res = await control({ mode: "slow", latencyMs: 150 });
    expect(await res.json()).toEqual({ mode: "slow", latencyMs: 150 });
    const t0 = performance.now();
    await client.chat.completions.create({ model: "m", messages: user("hi") });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    await control({ mode: "error500" });
    await expect(client.models.list()).rejects.toMatchObject({ status: 500 });
  });

  it("latencyMs adds a constant delay to every answer", async () => {
    const { client } = await start({ apiKey: KEY, latencyMs: 100 });
    const t0 = performance.now();
    await client.chat.completions.create({ model: "m", messages: user("hi") });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(95);
  });
});

describe("as a process", () => {
  it("serves on DEMO_MODEL_PORT with LOCAL_MODEL_API_KEY, prints one ready line, exits 0 on SIGTERM", async () => {
    const probe = await startDemoModel({ port: 0 });
    const port = Number(new URL(probe.url).port);
    await probe.close();
    const child = spawn(
      process.execPath,
      ["--import", "tsx", path.join(import.meta.dirname, "../src/demo-model-server.ts")],
      {
        env: { ...process.env, DEMO_MODEL_PORT: String(port), LOCAL_MODEL_API_KEY: KEY },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => (out += d.toString()).includes("ready at") && resolve());
        void exited.then((code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      expect(out.trim()).toBe(
        `[demo-model] OpenAI-compatible demo model ready at http://127.0.0.1:${port}/v1 (bearer key required)`,
      );
      const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: KEY, maxRetries: 0 });
      expect((await client.models.list()).data[0]!.id).toBe("clawgate-demo");
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});

describe("demo model: the demo MCP server's tools", () => {
  it("asks for lookup_order and create_ticket when they are offered, and not otherwise", async () => {
    const { recognise } = await import("../src/demo-model-reply.ts");
    const offered = ["mcp_demo_lookup_order", "mcp_demo_create_ticket", "ticket_lookup"];
    expect(recognise("look up order a-1001 please", offered)).toEqual({
      name: "mcp_demo_lookup_order",
      arguments: { orderId: "A-1001" },
    });
    expect(recognise("open a support ticket: VPN is down", offered)).toEqual({
      name: "mcp_demo_create_ticket",
      arguments: { title: "VPN is down" },
    });
    expect(recognise("look up order A-1001", ["ticket_lookup"])).toBeNull();
  });
});

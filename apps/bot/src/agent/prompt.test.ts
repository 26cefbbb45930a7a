import { describe, expect, it } from "vitest";
import { foldTurn, summaryLine, type Memory } from "./memory.ts";
import { buildPrompt, fitToolResult, SUMMARY_HEADER } from "./prompt.ts";
import { clipTokens, contextLimits, countTokens, messageTokens } from "./tokens.ts";

const SYSTEM = "You are a test assistant.";
const words = (n: number, tag = "w") => Array.from({ length: n }, (_, i) => `${tag}${i}`).join(" ");
const turns = (n: number, size = 20): Memory["recent"] =>
  Array.from({ length: n }, (_, i) => [
    { role: "user" as const, content: `question ${i}: ${words(size, "q")}` },
    { role: "assistant" as const, content: `answer ${i}: ${words(size, "a")}` },
  ]).flat();

describe("tokens", () => {
  it("counts with gpt-tokenizer and treats special-token text as plain text", () => {
    expect(countTokens("")).toBe(0);
    expect(countTokens("hello world")).toBe(2);
    expect(countTokens("hi <|endoftext|> there")).toBeGreaterThan(3);
    const c = clipTokens(words(100), 10);
    expect(c).toMatchObject({ tokens: 10, clipped: true });
    expect(countTokens(c.text)).toBeLessThanOrEqual(10);
    expect(words(100).startsWith(c.text)).toBe(true);
    expect(clipTokens("short", 10)).toEqual({ text: "short", tokens: 1, total: 1, clipped: false });
  });

  it("shares the max context: room for the answer, recent turns and a capped summary", () => {
    expect(contextLimits(8_192)).toEqual({ max: 8_192, reserve: 1_024, prompt: 7_168, recent: 2_048, summary: 512 });
    expect(contextLimits(2_000)).toEqual({ max: 2_000, reserve: 250, prompt: 1_750, recent: 500, summary: 125 });
  });
});

describe("buildPrompt", () => {
  const limits = contextLimits(2_000);

  it("sends system, summary, recent turns and the message, in that order, within the prompt budget", () => {
    const memory: Memory = { summary: "- User: old | Assistant: older", recent: turns(2) };
    const p = buildPrompt({ system: SYSTEM, toolTokens: 100, memory, userText: "and now?", limits });
    expect(p.messages.map((m) => m.role)).toEqual([
      "system",
      "system",
      "user",
      "assistant",
      "user",
      "assistant",
      "user",
    ]);
    expect(p.messages[1]!.content).toBe(`${SUMMARY_HEADER}\n- User: old | Assistant: older`);
    expect(p.messages.at(-1)).toEqual({ role: "user", content: "and now?" });
    expect(p).toMatchObject({ userText: "and now?", clipped: false });
    expect(p.tokens).toBe(100 + 3 + p.messages.reduce((n, m) => n + messageTokens(m), 0));
    expect(p.tokens).toBeLessThanOrEqual(limits.prompt);
  });

  it("clips a message that alone is too long, and says so in the prompt", () => {
    const long = words(3_000);
    const p = buildPrompt({
      system: SYSTEM,
      toolTokens: 100,
      memory: { summary: "", recent: turns(3) },
      userText: long,
      limits,
    });
    expect(p.clipped).toBe(true);
    expect(long.startsWith(p.userText)).toBe(true);
    const content = String(p.messages.at(-1)!.content);
    expect(content).toMatch(
      /\[Clawgate: this message was too long for the model's context and was cut after \d+ of its \d+ tokens/,
    );
    expect(p.tokens).toBeLessThanOrEqual(limits.prompt);
    // Half of the room at most goes to the message; a quarter stays free for tool results.
    expect(messageTokens(p.messages.at(-1)!)).toBeLessThanOrEqual(
      (limits.prompt - 100 - 3 - messageTokens({ content: SYSTEM })) / 2,
    );
    expect(limits.prompt - p.tokens).toBeGreaterThanOrEqual((limits.prompt - 100) / 4 - 10);
  });

  it("keeps the newest turns that fit, drops older ones whole, and never starts history with an answer", () => {
    const memory: Memory = {
      summary: words(50, "s")
        .split(" ")
        .map((w) => `- ${w}`)
        .join("\n"),
      recent: turns(30, 30),
    };
    const p = buildPrompt({ system: SYSTEM, toolTokens: 0, memory, userText: "hi", limits });
    const history = p.messages.slice(1, -1).filter((m) => m.role !== "system");
    expect(history.length).toBeGreaterThan(0);
    expect(history.length).toBeLessThan(60);
    expect(history[0]!.role).toBe("user");
    expect(history.at(-1)).toEqual(memory.recent.at(-1)); // the newest turn is there
    expect(p.tokens).toBeLessThanOrEqual(limits.prompt);
  });

  it("fits tool results into what is left, with a note, and omits them when nothing is left", () => {
    expect(fitToolResult("small result", 500)).toBe("small result");
    const cut = fitToolResult(words(2_000), 300);
    expect(cut).toMatch(/\n\[result cut to fit the model's context: \d+ of \d+ tokens\]$/);
    expect(countTokens(cut)).toBeLessThanOrEqual(300);
    expect(fitToolResult(words(10), 10)).toBe(
      "[result omitted: the conversation has no room left in the model's context]",
    );
  });
});

describe("foldTurn", () => {
  const limits = contextLimits(2_000); // recent 500, summary 125 tokens

  it("keeps turns verbatim while they fit their share", () => {
    const m = foldTurn({ summary: "", recent: [] }, "what is the vpn?", "Use the VPN client.", limits);
    expect(m).toEqual({
      summary: "",
      recent: [
        { role: "user", content: "what is the vpn?" },
        { role: "assistant", content: "Use the VPN client." },
      ],
      tokens: expect.any(Number),
    });
    expect(m.tokens).toBe(messageTokens(m.recent[0]!) + messageTokens(m.recent[1]!));
  });

  it("folds the oldest turns into one compact line each once the recent turns outgrow their share", () => {
    let m: Memory = { summary: "", recent: [] };
    for (let i = 0; i < 12; i++)
      m = foldTurn(m, `question ${i}: ${words(20, "q")}`, `answer ${i}: ${words(20, "a")}`, limits);
    const recentTokens = m.recent.reduce((n, t) => n + messageTokens(t), 0);
    expect(recentTokens).toBeLessThanOrEqual(limits.recent);
    expect(m.recent.at(-1)!.content).toContain("answer 11");
    const lines = m.summary.split("\n");
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => /^- User: question \d+: .*… \| Assistant: answer \d+: .*…$/.test(l))).toBe(true);
    // The summary ends where the recent turns begin: nothing lost in between.
    const firstRecent = Number(/question (\d+)/.exec(m.recent[0]!.content)![1]);
    expect(lines.at(-1)).toContain(`question ${firstRecent - 1}:`);
    expect(lines.at(-1)).toBe(
      summaryLine(`question ${firstRecent - 1}: ${words(20, "q")}`, `answer ${firstRecent - 1}: ${words(20, "a")}`),
    );
  });

  it("caps the summary, dropping its oldest lines first", () => {
    let m: Memory = { summary: "", recent: [] };
    for (let i = 0; i < 40; i++)
      m = foldTurn(m, `question ${i}: ${words(20, "q")}`, `answer ${i}: ${words(20, "a")}`, limits);
    expect(countTokens(m.summary)).toBeLessThanOrEqual(limits.summary);
    expect(m.summary).not.toContain("question 0:");
    const numbers = m.summary.split("\n").map((l) => Number(/question (\d+)/.exec(l)![1]));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(numbers.at(-1)! + 1).toBe(Number(/question (\d+)/.exec(m.recent[0]!.content)![1]));
  });

  it("folds a single turn larger than the recent share at once", () => {
    const m = foldTurn({ summary: "", recent: [] }, words(600), "ok", limits);
    expect(m.recent).toEqual([]);
    expect(m.summary).toMatch(/^- User: w0 w1 .*… \| Assistant: ok$/);
  });
});

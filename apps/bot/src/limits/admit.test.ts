import { describe, expect, it } from "vitest";
import { budgetExhaustedReply, estimateTurnTokens, tooFastReply } from "./admit.ts";

const now = Date.parse("2026-03-14T15:30:00Z");
const refusal = (scope: "GLOBAL" | "CONVERSATION" | "USER", window: "DAY" | "MONTH", resetsAt: string) => ({
  ok: false as const,
  scope,
  subject: scope === "GLOBAL" ? "" : "x",
  source: "DEFAULT" as const,
  window,
  limit: 200_000,
  used: 200_512,
  resetsAt: new Date(resetsAt),
});

describe("limit replies", () => {
  it("name the budget, its reset and who can raise it", () => {
    expect(budgetExhaustedReply(refusal("CONVERSATION", "DAY", "2026-03-15T00:00:00Z"), now)).toBe(
      "This conversation's daily token budget (200,000 tokens) is used up. It resets at 2026-03-15 00:00 UTC (in 9 h); an admin can raise it in the Clawgate console (Budgets).",
    );
    expect(budgetExhaustedReply(refusal("USER", "MONTH", "2026-04-01T00:00:00Z"), now)).toMatch(
      /^Your monthly token budget .* \(in 17 days\);/,
    );
    expect(budgetExhaustedReply(refusal("GLOBAL", "DAY", "2026-03-14T15:50:00Z"), now)).toMatch(
      /^The organisation's daily token budget .* \(in 20 min\);/,
    );
  });

  it("say how long to wait when too fast, in whole seconds (at least 1)", () => {
    expect(tooFastReply("user", 41_200)).toBe("You are sending messages too fast; try again in 42 s.");
    expect(tooFastReply("conversation", 10)).toBe("This conversation is sending messages too fast; try again in 1 s.");
  });

  it("reserve a fixed allowance plus one token per character", () => {
    expect(estimateTurnTokens("")).toBe(2_000);
    expect(estimateTurnTokens("你好，世界")).toBe(2_005);
  });
});

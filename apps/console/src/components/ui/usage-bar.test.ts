import { describe, expect, it } from "vitest";
import { usageText } from "./usage-bar.tsx";

describe("usageText", () => {
  it("says used of limit with a percentage, over budget past the limit, and no limit without one", () => {
    expect(usageText(8_000, 10_000, "tokens")).toBe("8,000 of 10,000 tokens (80%)");
    expect(usageText(50, 50, "tokens")).toBe("50 of 50 tokens (100%)");
    expect(usageText(25_779, 50, "tokens")).toBe("over budget: 25,779 of 50 tokens");
    expect(usageText(1_234, null, "tokens")).toBe("1,234 tokens, no limit");
    expect(usageText(3, 10)).toBe("3 of 10 (30%)");
  });
});

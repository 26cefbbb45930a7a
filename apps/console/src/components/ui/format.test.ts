import { describe, expect, it } from "vitest";
import { formatDateTime, formatHour, formatNumber, plural, timeAgo } from "./format.ts";

describe("format", () => {
  it("dates: one UTC format that names its zone, whatever the process's zone", () => {
    const d = new Date("2026-12-04T08:21:30Z");
    expect(formatDateTime(d)).toBe("4 Dec 2026, 08:21 UTC");
    expect(formatDateTime(null)).toBe("never");
    expect(formatDateTime(undefined, "not yet")).toBe("not yet");
    expect(formatHour(d)).toBe("08:21 UTC");
    expect(timeAgo(new Date("2026-12-04T08:16:30Z"), d)).toBe("5 min ago");
  });

  it("counted words agree with their number", () => {
    expect(plural(1, "call")).toBe("1 call");
    expect(plural(0, "call")).toBe("0 calls");
    expect(plural(25_779, "token")).toBe("25,779 tokens");
    expect(plural(2, "entry", "entries")).toBe("2 entries");
    expect(formatNumber(1_000_000)).toBe("1,000,000");
  });
});

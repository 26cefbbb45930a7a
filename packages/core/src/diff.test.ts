import { describe, expect, it } from "vitest";
import { diffFields } from "./diff.ts";

describe("diffFields", () => {
  it("lists only changed fields with their values", () => {
    expect(diffFields({ enabled: false, timeoutMs: 5000 }, { enabled: true, timeoutMs: 5000 })).toEqual({
      enabled: { from: false, to: true },
    });
  });
  it("reports new and removed fields", () => {
    expect(diffFields(null, { name: "local_chat" })).toEqual({ name: { from: null, to: "local_chat" } });
    expect(diffFields({ note: "x" }, {})).toEqual({ note: { from: "x", to: null } });
  });
  it("never carries secret values", () => {
    const d = diffFields({ apiKey: "sk-old" }, { apiKey: "sk-new" }, { secret: ["apiKey"] });
    expect(d).toEqual({ apiKey: { changed: true } });
    expect(JSON.stringify(d)).not.toContain("sk-");
  });
});

import { describe, expect, it } from "vitest";
import { hashId, redactInput } from "./redact.ts";

describe("redactInput", () => {
  it("keeps what the approver judges and hides credentials at any depth", () => {
    expect(
      redactInput({
        title: "t",
        headers: { Authorization: "Bearer x", accept: "json" },
        list: [{ apiKey: "k" }],
        access_token: "t",
      }),
    ).toEqual({
      title: "t",
      headers: { Authorization: "[redacted]", accept: "json" },
      list: [{ apiKey: "[redacted]" }],
      access_token: "[redacted]",
    });
  });
});

describe("hashId", () => {
  it("is 12 hex digits, the same for the same id and different for another", () => {
    expect(hashId("cid-1")).toMatch(/^[0-9a-f]{12}$/);
    expect(hashId("cid-1")).toBe(hashId("cid-1"));
    expect(hashId("cid-2")).not.toBe(hashId("cid-1"));
    expect(hashId("cid-1")).not.toContain("cid");
  });
});

import { describe, expect, it } from "vitest";
import { traceIdHex } from "@clawgate/skills";
import { traceIdFrom } from "./trace.ts";

describe("traceIdFrom", () => {
  it("uses an x-request-id that is a W3C trace id as it is", () => {
    const id = "4bf92f3577b34da6a3ce929d0e0e4736";
    expect(traceIdFrom({ "x-request-id": id })).toBe(id);
    expect(traceIdFrom({ "x-request-id": id.toUpperCase() })).toBe(id);
  });

  it("maps any other well-formed x-request-id to a stable 32-hex trace id", () => {
    const id = traceIdFrom({ "x-request-id": "req-42_a.b:c" });
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(traceIdFrom({ "x-request-id": "req-42_a.b:c" })).toBe(id);
    expect(traceIdFrom({ "x-request-id": "req-42_a.b:d" })).not.toBe(id);
    // What goes out in traceparent is that same id.
    expect(traceIdHex(id)).toBe(id);
  });

  it("takes the trace id out of a W3C traceparent", () => {
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    expect(traceIdFrom({ traceparent })).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
  });

  it("prefers x-request-id over traceparent", () => {
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    expect(traceIdFrom({ "x-request-id": "abc", traceparent })).toBe(traceIdFrom({ "x-request-id": "abc" }));
  });

  it.each([
    [{}],
    [{ "x-request-id": "has spaces and\nnewlines" }],
    [{ "x-request-id": "x".repeat(129) }],
    [{ traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01" }],
    [{ traceparent: "garbage" }],
  ])("generates a fresh id for %o", (headers) => {
    const id = traceIdFrom(headers);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(traceIdFrom(headers)).not.toBe(id);
  });
});

import { describe, expect, it } from "vitest";
import { traceContext, tracedFetch, traceIdHex, traceparent } from "./traceparent.ts";

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

describe("traceparent", () => {
  it("carries a 32-hex trace id as it is, without the runtime's :suffix", () => {
    const id = "4bf92f3577b34da6a3ce929d0e0e4736";
    expect(traceIdHex(id)).toBe(id);
    expect(traceIdHex(`${id}:appr_1`)).toBe(id);
    expect(traceIdHex(id.toUpperCase())).toBe(id);
    expect(TRACEPARENT.exec(traceparent(`${id}:x`))?.[1]).toBe(id);
  });

  it("derives a stable 32-hex id from any other trace id (and from an all-zero one)", () => {
    for (const other of ["req-42_a.b:c", "abc", "0".repeat(32), "4bf92f35"]) {
      const hex = traceIdHex(other);
      expect(hex).toMatch(/^[0-9a-f]{32}$/);
      expect(hex).not.toBe("0".repeat(32));
      expect(traceIdHex(other)).toBe(hex);
    }
    expect(traceIdHex("abc")).not.toBe(traceIdHex("abd"));
  });

  it("gives each request its own span id", () => {
    const [a, b] = [traceparent("abc"), traceparent("abc")];
    expect(a).toMatch(TRACEPARENT);
    expect(TRACEPARENT.exec(a)?.[1]).toBe(TRACEPARENT.exec(b)?.[1]);
    expect(TRACEPARENT.exec(a)?.[2]).not.toBe(TRACEPARENT.exec(b)?.[2]);
  });

  it("tracedFetch adds the current call's traceparent and keeps the other headers", async () => {
    const seen: Headers[] = [];
    const inner = (async (_url: unknown, init?: RequestInit) => {
      seen.push(new Headers(init?.headers));
      return new Response("ok");
    }) as typeof fetch;
    const traced = tracedFetch(inner);
    await traced("http://x/", { headers: { authorization: "Bearer t" } });
    const tp = traceparent("abc");
    await traceContext.run(tp, () => traced("http://x/", { headers: { authorization: "Bearer t" } }));
    expect(seen[0]!.get("traceparent")).toBeNull();
    expect(seen[1]!.get("traceparent")).toBe(tp);
    expect(seen[1]!.get("authorization")).toBe("Bearer t");
  });
});

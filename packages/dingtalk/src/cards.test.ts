import { describe, expect, it } from "vitest";
import { cardCallbackSign, parseCardCallback, verifyCardSignature } from "./cards.ts";

describe("card callback signature", () => {
  // The vector in shared/notes/dingtalk-protocol.md §7.
  it("matches DingTalk's documented example", () => {
    expect(cardCallbackSign("1577262236757", "mySecret")).toBe("YPRwOACkIyAfSkOByibnXwmticUhkII0vLSQrdNiEPE=");
  });

  it("accepts a fresh, correct signature; refuses missing, stale, future and wrong ones", () => {
    const now = 1_700_000_000_000;
    const ts = String(now - 1_000);
    const ok = { timestamp: ts, signature: cardCallbackSign(ts, "s3cret") };
    expect(verifyCardSignature(ok, "s3cret", now)).toEqual({ ok: true });
    expect(verifyCardSignature({ timestamp: ts }, "s3cret", now)).toEqual({ ok: false, reason: "missing_headers" });
    expect(verifyCardSignature({ ...ok, timestamp: "12a" }, "s3cret", now).ok).toBe(false);
    const stale = String(now - 3_600_001);
    expect(
      verifyCardSignature({ timestamp: stale, signature: cardCallbackSign(stale, "s3cret") }, "s3cret", now),
    ).toEqual({ ok: false, reason: "stale_timestamp" });
    const future = String(now + 3_600_001);
    expect(
      verifyCardSignature({ timestamp: future, signature: cardCallbackSign(future, "s3cret") }, "s3cret", now).ok,
    ).toBe(false);
    expect(verifyCardSignature(ok, "other", now)).toEqual({ ok: false, reason: "bad_signature" });
    expect(verifyCardSignature({ ...ok, signature: "short" }, "s3cret", now)).toEqual({
      ok: false,
      reason: "bad_signature",
    });
  });
});

describe("parseCardCallback", () => {
  const body = (content: unknown) => ({
    type: "actionCallback",
    outTrackId: "req-1",
    userId: "staff-1",
    corpId: "ding1",
    content: typeof content === "string" ? content : JSON.stringify(content),
  });

  it("reads the clicked action and its params", () => {
    expect(parseCardCallback(body({ cardPrivateData: { actionIds: ["approve"], params: { a: 1 } } }))).toEqual({
      outTrackId: "req-1",
      userId: "staff-1",
      actionId: "approve",
      params: { a: 1 },
    });
  });

  it("refuses bodies that are not card actions", () => {
    expect(parseCardCallback(body("not json"))).toBeUndefined();
    expect(parseCardCallback(body({ cardPrivateData: { actionIds: [] } }))).toBeUndefined();
    expect(parseCardCallback({ outTrackId: "x" })).toBeUndefined();
  });
});

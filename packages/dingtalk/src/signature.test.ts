import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { robotSign, SIGNATURE_WINDOW_MS, verifyRobotSignature } from "./signature.ts";

const secret = "test-app-secret-Ωσ";
const now = 1_700_000_000_000;

describe("robot callback signature", () => {
  it("matches an independent computation of the documented algorithm", () => {
    const ts = String(now);
    const independent = createHmac("sha256", Buffer.from(secret, "utf8"))
      .update(Buffer.from(`${ts}\n${secret}`, "utf8"))
      .digest()
      .toString("base64");
    expect(robotSign(ts, secret)).toBe(independent);
  });

  it("accepts a valid signature", () => {
    const ts = String(now - 1000);
    expect(verifyRobotSignature({ timestamp: ts, sign: robotSign(ts, secret) }, secret, now)).toEqual({ ok: true });
  });

  it("rejects a signature made with another secret, or altered", () => {
    const ts = String(now);
    expect(verifyRobotSignature({ timestamp: ts, sign: robotSign(ts, "other") }, secret, now)).toEqual({
      ok: false,
      reason: "bad_signature",
    });
    const sign = robotSign(ts, secret);
    const altered = (sign[0] === "A" ? "B" : "A") + sign.slice(1);
    expect(verifyRobotSignature({ timestamp: ts, sign: altered }, secret, now).ok).toBe(false);
    expect(verifyRobotSignature({ timestamp: ts, sign: sign.slice(0, -2) }, secret, now).ok).toBe(false);
  });

  it.each([
    ["exactly 1 hour old", -SIGNATURE_WINDOW_MS, true],
    ["just past 1 hour old", -SIGNATURE_WINDOW_MS - 1, false],
    ["exactly 1 hour ahead", SIGNATURE_WINDOW_MS, true],
    ["just past 1 hour ahead", SIGNATURE_WINDOW_MS + 1, false],
  ])("timestamp %s", (_name, offset, ok) => {
    const ts = String(now + offset);
    const result = verifyRobotSignature({ timestamp: ts, sign: robotSign(ts, secret) }, secret, now);
    expect(result).toEqual(ok ? { ok: true } : { ok: false, reason: "stale_timestamp" });
  });

  it("rejects missing headers and non-numeric timestamps", () => {
    expect(verifyRobotSignature({ timestamp: String(now) }, secret, now)).toEqual({
      ok: false,
      reason: "missing_headers",
    });
    expect(verifyRobotSignature({ sign: "x" }, secret, now)).toEqual({ ok: false, reason: "missing_headers" });
    expect(verifyRobotSignature({ timestamp: "12ab", sign: robotSign("12ab", secret) }, secret, now)).toEqual({
      ok: false,
      reason: "bad_timestamp",
    });
  });
});

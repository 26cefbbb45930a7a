/**
 * App robot HTTP-mode callback signature (shared/notes/dingtalk-protocol.md §1):
 *   sign = Base64(HmacSHA256(key = appSecret, msg = timestamp + "\n" + appSecret))
 * sent in the `timestamp` (ms) and `sign` headers. Rejected when |now - timestamp| > 1 hour.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_WINDOW_MS = 60 * 60 * 1000;

export function robotSign(timestamp: string, appSecret: string): string {
  return createHmac("sha256", appSecret).update(`${timestamp}\n${appSecret}`, "utf8").digest("base64");
}

export type SignatureFailure = "missing_headers" | "bad_timestamp" | "stale_timestamp" | "bad_signature";

export type SignatureCheck = { ok: true } | { ok: false; reason: SignatureFailure };

export function verifyRobotSignature(
  headers: { timestamp?: string | null; sign?: string | null },
  appSecret: string,
  now: number = Date.now(),
): SignatureCheck {
  const { timestamp, sign } = headers;
  if (!timestamp || !sign) return { ok: false, reason: "missing_headers" };
  if (!/^\d{1,16}$/.test(timestamp)) return { ok: false, reason: "bad_timestamp" };
  if (Math.abs(now - Number(timestamp)) > SIGNATURE_WINDOW_MS) return { ok: false, reason: "stale_timestamp" };
  const expected = Buffer.from(robotSign(timestamp, appSecret), "utf8");
  const given = Buffer.from(sign, "utf8");
  // timingSafeEqual needs equal lengths; a length mismatch is itself a mismatch.
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: "bad_signature" };
  return { ok: true };
}

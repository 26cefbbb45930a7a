/**
 * Trace ids: taken from an incoming `x-request-id` or W3C `traceparent`, else generated; always
 * 32 lowercase hex (a W3C trace id), so the id stored with the message, its invocations and audit
 * entries is the one sent on in `traceparent` to the model, internal APIs and MCP servers
 * (@clawgate/skills traceparent.ts). A request id that is not one is mapped to one stably.
 */
import { createHash, randomBytes } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
// version-traceid-parentid-flags; an all-zero trace id is invalid per the spec.
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

export function newTraceId(): string {
  return randomBytes(16).toString("hex");
}

export function traceIdFrom(headers: IncomingHttpHeaders): string {
  const requestId = first(headers["x-request-id"])?.trim();
  if (requestId && REQUEST_ID.test(requestId)) {
    const lower = requestId.toLowerCase();
    if (/^[0-9a-f]{32}$/.test(lower) && !/^0+$/.test(lower)) return lower;
    // Stable: the same request id is the same trace (a retried delivery, a search in the console).
    return createHash("sha256").update(requestId).digest("hex").slice(0, 32);
  }
  const traceparent = first(headers.traceparent)?.trim().toLowerCase();
  const match = traceparent ? TRACEPARENT.exec(traceparent) : null;
  if (match?.[1] && !/^0+$/.test(match[1])) return match[1];
  return newTraceId();
}

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): every request the runtime sends on a
 * message's behalf (model endpoint, internal API, HTTP tools, MCP servers) carries
 * `traceparent: 00-<trace id>-<span id>-01`, so the other side's logs join ours on the trace id.
 */
import { createHash, randomBytes } from "node:crypto";
import { AsyncLocalStorage } from "node:async_hooks";

const HEX32 = /^[0-9a-f]{32}$/;

/**
 * The 16-byte trace id (32 lowercase hex) of a trace id as the runtime stores it: the id itself
 * when it is one (a `:suffix` the runtime adds for per-call idempotency keys is ignored), else
 * a stable derivation (the first 16 bytes of its SHA-256), so the same id always maps the same way.
 */
export function traceIdHex(traceId: string): string {
  const head = traceId.split(":", 1)[0]!.toLowerCase();
  if (HEX32.test(head) && !/^0+$/.test(head)) return head;
  return createHash("sha256").update(traceId.split(":", 1)[0]!).digest("hex").slice(0, 32);
}

/** A new span id: 8 random bytes, never all zero (invalid per the spec). */
function spanId(): string {
  for (;;) {
    const id = randomBytes(8).toString("hex");
    if (!/^0+$/.test(id)) return id;
  }
}

/** `00-<trace id>-<new span id>-01` (version 00, sampled). */
export function traceparent(traceId: string): string {
  return `00-${traceIdHex(traceId)}-${spanId()}-01`;
}

/** The traceparent of the call running now, for clients that share a connection across calls (MCP). */
export const traceContext = new AsyncLocalStorage<string>();

/** A fetch that adds the current call's `traceparent` (see `traceContext`) to each request. */
export function tracedFetch(inner: typeof fetch = fetch): typeof fetch {
  return (input, init) => {
    const current = traceContext.getStore();
    if (!current) return inner(input, init);
    const headers = new Headers(init?.headers);
    headers.set("traceparent", current);
    return inner(input, { ...init, headers });
  };
}

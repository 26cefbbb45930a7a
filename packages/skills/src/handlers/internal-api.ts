/**
 * The client for the company's internal HTTP API behind kb.search and ticket.*.
 * Settings: `{ baseUrl, tokenEnv? }`; tokenEnv names the secret sent as a bearer token.
 * REST shapes (the fake in packages/devstack/src/fake-internal-api.ts serves the same):
 *   GET  {baseUrl}/kb/search?q=&limit=  -> { results: [{ title, url, snippet }] }
 *   GET  {baseUrl}/tickets/{id}         -> { id, status, owner, title } | 404
 *   POST {baseUrl}/tickets              -> { id, url }   (Idempotency-Key: the trace id)
 * One circuit breaker per base URL: a connection error, a timeout, a 429 or a 5xx counts against
 * it; while it is open the skill answers at once that the API is unavailable (no request sent).
 */
import { type z } from "zod";
import { BreakerOpenError, BreakerRegistry } from "../breakers.ts";
import { internalApiSettings } from "../builtin.ts";
import { fail, type SkillContext, type SkillResult } from "../handler.ts";
import { traceparent } from "../traceparent.ts";

/** Only unhealthy answers throw inside the breaker (see `send`), so every error counts. */
export const internalApiBreakers = new BreakerRegistry("internal_api", () => true);

class UnhealthyStatus extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

/** The breaker's key (and metric label): the base URL without credentials, query or trailing "/". */
function breakerKey(baseUrl: string): string {
  const u = new URL(baseUrl);
  return `${u.origin}${u.pathname.replace(/\/+$/, "")}`;
}

/** The breaker a skill with internal-API settings (`{ baseUrl }`) runs behind, or undefined without a valid baseUrl. */
export function internalApiBreakerName(settings: unknown): string | undefined {
  const parsed = internalApiSettings.safeParse(settings);
  return parsed.success ? `${internalApiBreakers.prefix}:${breakerKey(parsed.data.baseUrl)}` : undefined;
}

export type ApiResponse<T> = { ok: true; status: number; body: T } | { ok: false; result: SkillResult };

export async function callInternalApi<T>(
  ctx: SkillContext,
  schema: z.ZodType<T>,
  req: { method: "GET" | "POST"; path: string; body?: unknown; notFoundOk?: boolean },
): Promise<ApiResponse<T | null>> {
  const settings = internalApiSettings.safeParse(ctx.settings);
  if (!settings.success) return { ok: false, result: fail("the internal API is not configured (settings.baseUrl)") };
  const headers: Record<string, string> = {
    accept: "application/json",
    "x-trace-id": ctx.traceId,
    traceparent: traceparent(ctx.traceId),
  };
  if (settings.data.tokenEnv) {
    const token = ctx.getSecret?.(settings.data.tokenEnv);
    if (!token) return { ok: false, result: fail(`the internal API token (${settings.data.tokenEnv}) is not set`) };
    headers.authorization = `Bearer ${token}`;
  }
  if (req.body !== undefined) {
    headers["content-type"] = "application/json";
    headers["idempotency-key"] = ctx.traceId;
  }
  const url = settings.data.baseUrl.replace(/\/+$/, "") + req.path;

  const key = breakerKey(settings.data.baseUrl);
  let res: Response;
  try {
    res = await internalApiBreakers.run(key, async () => {
      const r = await ctx.fetch(url, {
        method: req.method,
        headers,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal: ctx.signal,
        redirect: "error",
      });
      if (r.status === 429 || r.status >= 500) {
        await r.body?.cancel();
        throw new UnhealthyStatus(r.status);
      }
      return r;
    });
  } catch (err) {
    if (err instanceof BreakerOpenError) {
      return {
        ok: false,
        result: fail(
          `the internal API (${key}) is unavailable right now after repeated failures; try again in a few minutes`,
          true,
        ),
      };
    }
    if (err instanceof UnhealthyStatus)
      return { ok: false, result: fail(`the internal API answered HTTP ${err.status}`, true) };
    if (ctx.signal.aborted) throw err;
    return { ok: false, result: fail("the internal API is unreachable", true) };
  }
  if (res.status === 404 && req.notFoundOk) {
    await res.body?.cancel();
    return { ok: true, status: 404, body: null };
  }
  if (!res.ok) {
    await res.body?.cancel();
    if (res.status === 401 || res.status === 403)
      return { ok: false, result: fail("the internal API refused our credentials") };
    return { ok: false, result: fail(`the internal API answered HTTP ${res.status}`) };
  }
  const parsed = schema.safeParse(await res.json().catch(() => undefined));
  if (!parsed.success) return { ok: false, result: fail("the internal API sent an unexpected response") };
  return { ok: true, status: res.status, body: parsed.data };
}

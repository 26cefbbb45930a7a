/** The JSON POST both outbound routes (OpenAPI and sessionWebhook) make, and their error type. */

export class DingTalkApiError extends Error {
  override name = "DingTalkApiError";
  /** HTTP status; 0 when no response arrived (timeout, network). */
  readonly status: number;
  /** DingTalk's error code (OpenAPI `code`, webhook `errcode`), or "timeout" / "network". */
  readonly code?: string;
  /** DingTalk asked us to slow down: retry later rather than treat as a failure of the message. */
  readonly throttled: boolean;

  constructor(message: string, opts: { status: number; code?: string; throttled?: boolean; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.status = opts.status;
    this.code = opts.code;
    this.throttled = opts.throttled ?? false;
  }
}

export const DEFAULT_TIMEOUT_MS = 10_000;

export interface JsonResponse {
  status: number;
  /** Parsed JSON, or undefined when the body was empty or not JSON. */
  body: unknown;
}

export async function postJson(
  fetchImpl: typeof fetch,
  url: string,
  payload: unknown,
  opts: { headers?: Record<string, string>; timeoutMs?: number; signal?: AbortSignal; method?: "POST" | "PUT" } = {},
): Promise<JsonResponse> {
  // Only the path goes into messages: webhook and token URLs carry credentials in the query.
  const where = new URL(url).pathname;
  const method = opts.method ?? "POST";
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  try {
    const res = await fetchImpl(url, {
      method,
      headers: { "content-type": "application/json", accept: "application/json", ...opts.headers },
      body: JSON.stringify(payload),
      signal,
    });
    const text = await res.text();
    return { status: res.status, body: parseJson(text) };
  } catch (error) {
    if (timeout.aborted)
      throw new DingTalkApiError(`${method} ${where} timed out`, { status: 0, code: "timeout", cause: error });
    if (opts.signal?.aborted)
      throw new DingTalkApiError(`${method} ${where} aborted`, { status: 0, code: "aborted", cause: error });
    throw new DingTalkApiError(`${method} ${where} failed: ${(error as Error).message}`, {
      status: 0,
      code: "network",
      cause: error,
    });
  }
}

/** A non-2xx answer of api.dingtalk.com, whose error body is `{code, message, requestid}`. */
export function openApiError(
  path: string,
  res: JsonResponse,
  throttleCodes: ReadonlySet<string> = new Set(),
): DingTalkApiError {
  const code = isRecord(res.body) && typeof res.body.code === "string" ? res.body.code : undefined;
  const detail = isRecord(res.body) && typeof res.body.message === "string" ? `: ${res.body.message}` : "";
  return new DingTalkApiError(`POST ${path} returned HTTP ${res.status}${code ? ` ${code}` : ""}${detail}`, {
    status: res.status,
    code,
    throttled: res.status === 429 || (code !== undefined && throttleCodes.has(code)),
  });
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The local demo model: an OpenAI-compatible server (GET /v1/models, POST /v1/chat/completions,
 * JSON or SSE) that answers deterministically (demo-model-reply.ts), so the whole flow runs
 * without a real model. Faults are injected with `setMode` or `POST /_demo/mode {mode, latencyMs?}`
 * so tests and demos can show what users get when the model fails. What it received is kept in
 * `requests` (in process) and served by `GET /_demo/requests` (the last 1,000, newest last).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { countTokens, demoReply, promptTokens, type ChatRequest, type DemoReply } from "./demo-model-reply.ts";
import { readRequestText } from "./http-body.ts";

export { toolName, skillKeyOf } from "./demo-model-reply.ts";

export const DEMO_MODEL_ID = "clawgate-demo";
export const DEMO_MODES = ["ok", "error500", "rate_limited", "slow", "down"] as const;
export type DemoModelMode = (typeof DEMO_MODES)[number];

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
  /** W3C trace context the caller sent (the runtime's message trace id). */
  traceparent?: string;
  at: Date;
}

export interface DemoModelOptions {
  port: number;
  host?: string;
  apiKey?: string;
  /** A constant delay before every answer (the agent benchmark's model latency). */
  latencyMs?: number;
}

export interface DemoModel {
  url: string; // …/v1, the SDK's baseURL
  close(): Promise<void>;
  setMode(mode: DemoModelMode, opts?: { latencyMs?: number }): void;
  requests: RecordedRequest[];
}

const SLOW_DEFAULT_MS = 30_000;
// Recording is for tests; a benchmark run must not grow without bound.
const MAX_RECORDED = 1_000;

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
}

function apiError(
  res: ServerResponse,
  status: number,
  type: string,
  message: string,
  headers?: Record<string, string>,
): void {
  sendJson(res, status, { error: { message, type, param: null, code: type } }, headers);
}

/** Generous: chat requests carry whole conversations and tool schemas. */
const MAX_REQUEST_BYTES = 8 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return readRequestText(req, MAX_REQUEST_BYTES);
}

function isChatRequest(
  body: unknown,
): body is ChatRequest & { stream?: boolean; stream_options?: { include_usage?: boolean } } {
  return (
    !!body &&
    typeof body === "object" &&
    Array.isArray((body as ChatRequest).messages) &&
    (body as ChatRequest).messages.length > 0
  );
}

export function completion(id: string, req: ChatRequest, reply: DemoReply, callId: string) {
  const message =
    reply.kind === "text"
      ? { role: "assistant" as const, content: reply.content, refusal: null }
      : {
          role: "assistant" as const,
          content: null,
          refusal: null,
          tool_calls: [
            {
              id: callId,
              type: "function" as const,
              function: { name: reply.call.name, arguments: JSON.stringify(reply.call.arguments) },
            },
          ],
        };
  const prompt = promptTokens(req);
  const completionTokens = Math.max(1, countTokens(reply.kind === "text" ? reply.content : JSON.stringify(reply.call)));
  return {
    id,
    object: "chat.completion" as const,
    created: Math.floor(Date.now() / 1000),
    model: req.model ?? DEMO_MODEL_ID,
    choices: [
      {
        index: 0,
        message,
        logprobs: null,
        finish_reason: reply.kind === "text" ? ("stop" as const) : ("tool_calls" as const),
      },
    ],
    usage: { prompt_tokens: prompt, completion_tokens: completionTokens, total_tokens: prompt + completionTokens },
  };
}

/** The same completion as OpenAI's stream: a role chunk, content or tool-call deltas, the finish, [DONE]. */
function writeStream(res: ServerResponse, full: ReturnType<typeof completion>, includeUsage: boolean): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const base = { id: full.id, object: "chat.completion.chunk", created: full.created, model: full.model };
  const send = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    res.write(`data: ${JSON.stringify({ ...base, choices, ...extra })}\n\n`);
  const choice = full.choices[0]!;
  send([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]);
  const call = choice.message.tool_calls?.[0];
  if (call) {
    send([
      {
        index: 0,
        delta: {
          tool_calls: [
            { index: 0, id: call.id, type: "function", function: { name: call.function.name, arguments: "" } },
          ],
        },
        finish_reason: null,
      },
    ]);
    send([
      {
        index: 0,
        delta: { tool_calls: [{ index: 0, function: { arguments: call.function.arguments } }] },
        finish_reason: null,
      },
    ]);
  } else {
    for (const piece of (choice.message.content ?? "").match(/\S+\s*/g) ?? []) {
      send([{ index: 0, delta: { content: piece }, finish_reason: null }]);
    }
  }
  send([{ index: 0, delta: {}, finish_reason: choice.finish_reason }]);
  if (includeUsage) send([], { usage: full.usage });
  res.end("data: [DONE]\n\n");
}

export async function startDemoModel(opts: DemoModelOptions): Promise<DemoModel> {
  let mode: DemoModelMode = "ok";
  let slowMs = SLOW_DEFAULT_MS;
  let counter = 0;
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });
  const setMode = (next: DemoModelMode, o: { latencyMs?: number } = {}) => {
    mode = next;
    slowMs = o.latencyMs ?? SLOW_DEFAULT_MS;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0]!;
    const raw = req.method === "POST" ? await readBody(req) : "";
    let body: unknown = null;
    try {
      body = raw ? JSON.parse(raw) : null;
    } catch {
      return apiError(res, 400, "invalid_request_error", "the body is not valid JSON");
    }
    if (req.method === "GET" && path === "/_demo/requests") return sendJson(res, 200, { requests });
    const traceparent = String(req.headers.traceparent ?? "");
    requests.push({ method: req.method ?? "GET", path, body, ...(traceparent ? { traceparent } : {}), at: new Date() });
    if (requests.length > MAX_RECORDED) requests.shift();

    if (req.method === "POST" && path === "/_demo/mode") {
      const b = (body ?? {}) as { mode?: unknown; latencyMs?: unknown };
      if (!DEMO_MODES.includes(b.mode as DemoModelMode))
        return apiError(res, 400, "invalid_request_error", `mode must be one of ${DEMO_MODES.join(", ")}`);
      setMode(b.mode as DemoModelMode, typeof b.latencyMs === "number" ? { latencyMs: b.latencyMs } : {});
      return sendJson(res, 200, { mode, latencyMs: slowMs });
    }
    if (!path.startsWith("/v1/")) return apiError(res, 404, "not_found", `no route ${req.method} ${path}`);
    if (opts.apiKey !== undefined && req.headers.authorization !== `Bearer ${opts.apiKey}`) {
      return apiError(res, 401, "invalid_api_key", "Incorrect API key provided.");
    }
    if (mode === "down") return void req.socket.destroy();
    if (mode === "error500")
      return apiError(res, 500, "server_error", "The demo model is failing on purpose (mode error500).");
    if (mode === "rate_limited")
      return apiError(res, 429, "rate_limit_exceeded", "Rate limit reached (demo mode rate_limited).", {
        "retry-after": "1",
      });
    if (mode === "slow") await wait(slowMs);
    if (opts.latencyMs) await wait(opts.latencyMs);
    if (res.destroyed) return;

    if (req.method === "GET" && path === "/v1/models") {
      return sendJson(res, 200, {
        object: "list",
        data: [{ id: DEMO_MODEL_ID, object: "model", created: 0, owned_by: "clawgate" }],
      });
    }
    if (req.method === "POST" && path === "/v1/chat/completions") {
      if (!isChatRequest(body))
        return apiError(res, 400, "invalid_request_error", "messages must be a non-empty array");
      counter += 1;
      const full = completion(`chatcmpl-demo-${counter}`, body, demoReply(body), `call_demo_${counter}`);
      if (body.stream) return writeStream(res, full, body.stream_options?.include_usage === true);
      return sendJson(res, 200, full);
    }
    return apiError(res, 404, "not_found", `no route ${req.method} ${path}`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) apiError(res, 500, "server_error", (error as Error).message);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host ?? "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${opts.host ?? "127.0.0.1"}:${port}/v1`,
    requests,
    setMode,
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

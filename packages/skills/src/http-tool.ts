/**
 * HTTP tools: a REST call declared as a skill in config (onboard YAML or the console), no code.
 *
 * Definition (Skill.definition, pinned like an MCP tool's):
 *   { description, inputSchema (JSON Schema), request: { method, url, headers?, maxBytes?, jsonPath? } }
 * - `url` is a template: `{name}` is replaced by the input field `name` (URL-encoded); the other
 *   fields go as the query string (GET, DELETE) or as a JSON body (POST, PUT, PATCH).
 * - The host must be on the outbound allowlist, http.fetch's `allowedHosts` (and its
 *   `allowPrivateNetworks`), and every resolved address passes the same net guard; the connection
 *   goes to the checked address. Redirects are not followed.
 * - `headers` maps a header name to the env var NAME holding its value (a secret reference).
 * - The response is read up to `maxBytes`; `jsonPath` (`$.a.b[0]`) picks what the model reads.
 */
import type { IncomingMessage } from "node:http";
import { z } from "zod";
import { fail, type SkillHandler, type SkillResult } from "./handler.ts";
import { checkUrl, requestPinned, type Connector } from "./handlers/http-fetch.ts";
import { RefusedError, resolveChecked, systemResolver, type Resolver } from "./handlers/net-guard.ts";
import { httpFetchSettings } from "./builtin.ts";
import { defineSkill, noSettings, type RiskClass, type SkillManifest } from "./manifest.ts";
import { jsonSchemaInput } from "./mcp.ts";
import { HEADER_NAME } from "./mcp.ts";
import { traceparent } from "./traceparent.ts";

export const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;
const JSON_PATH = /^\$(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*$/;

export const httpToolRequestSchema = z.strictObject({
  method: z.enum(HTTP_METHODS),
  url: z
    .string()
    .min(1)
    .max(2_000)
    .refine((u) => /^https?:\/\/[^/{}]+(\/|$)/.test(u), {
      error: "must be an http(s) URL whose host is not a template",
    }),
  headers: z.record(z.string().regex(HEADER_NAME), z.string().min(1)).default({}),
  maxBytes: z
    .number()
    .int()
    .min(1)
    .max(4 * 1024 * 1024)
    .default(64 * 1024),
  jsonPath: z.string().regex(JSON_PATH, { error: "a path like $.items[0].title" }).optional(),
});

export const httpToolDefinitionSchema = z.strictObject({
  description: z.string().min(1).max(2_000),
  inputSchema: z.record(z.string(), z.unknown()),
  request: httpToolRequestSchema,
});
export type HttpToolDefinition = z.output<typeof httpToolDefinitionSchema>;

/** Picks `$.a.b[0]` out of a parsed JSON value (undefined when absent). */
export function pickJsonPath(value: unknown, path: string): unknown {
  const steps = [...path.slice(1).matchAll(/\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]/g)];
  let v = value;
  for (const [, name, index] of steps) {
    if (v === null || typeof v !== "object") return undefined;
    v = name !== undefined ? (v as Record<string, unknown>)[name] : (v as unknown[])[Number(index)];
  }
  return v;
}

export interface HttpToolNet {
  resolve?: Resolver;
  connect?: Connector;
}

export function httpToolSkill(
  row: { key: string; riskClass: RiskClass; requiresApproval: boolean; timeoutMs: number },
  definition: unknown,
  net: HttpToolNet = {},
): { manifest: SkillManifest; handler: SkillHandler<never>; settingsFrom: string } | undefined {
  const parsed = httpToolDefinitionSchema.safeParse(definition);
  if (!parsed.success) return undefined;
  const def = parsed.data;
  const manifest = defineSkill({
    key: row.key,
    description: def.description,
    riskClass: row.riskClass,
    requiresApproval: row.requiresApproval,
    enabledByDefault: false,
    timeoutMs: row.timeoutMs,
    cacheTtlSeconds: 0,
    settings: noSettings,
    input: jsonSchemaInput(def.inputSchema),
    inputJsonSchema: def.inputSchema,
    untrustedOutput: true,
  });
  const resolve = net.resolve ?? systemResolver;
  const connect = net.connect ?? requestPinned;
  const handler: SkillHandler<Record<string, unknown>> = async (input, ctx) => {
    // The outbound allowlist is http.fetch's (the runtime passes its settings).
    const guard = httpFetchSettings.safeParse(ctx.settings ?? {});
    if (!guard.success) return fail("the outbound allowlist (http.fetch settings) is invalid");
    const { request } = def;
    const rest: Record<string, unknown> = { ...(input ?? {}) };
    const rendered = request.url.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      const v = rest[name];
      delete rest[name];
      return encodeURIComponent(v === undefined || v === null ? "" : String(v));
    });
    let url: URL;
    try {
      url = new URL(rendered);
    } catch {
      return fail("the tool's URL is invalid after filling in the input");
    }
    const hasBody = request.method === "POST" || request.method === "PUT" || request.method === "PATCH";
    if (!hasBody)
      for (const [k, v] of Object.entries(rest))
        if (v !== undefined) url.searchParams.set(k, typeof v === "string" ? v : JSON.stringify(v));
    const refused = checkUrl(url, guard.data.allowedHosts);
    if (refused) return fail(`refused: ${refused} (the outbound allowlist is http.fetch's allowedHosts)`);
    const headers: Record<string, string> = {
      accept: "application/json",
      "user-agent": `clawgate-${row.key}`,
      traceparent: traceparent(ctx.traceId),
    };
    for (const [header, envName] of Object.entries(request.headers)) {
      const value = ctx.getSecret?.(envName);
      if (!value) return fail(`header ${header}: the env var ${envName} is not set (or not allowed)`);
      headers[header] = value;
    }
    const body = hasBody ? JSON.stringify(rest) : undefined;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: IncomingMessage;
    try {
      const target = await resolveChecked(url.hostname, guard.data.allowPrivateNetworks, resolve);
      res = await connect(url, target, ctx.signal, { method: request.method, headers, ...(body ? { body } : {}) });
    } catch (err) {
      if (err instanceof RefusedError) return fail(`refused: ${err.message}`);
      if (ctx.signal.aborted) throw err;
      return fail(`could not reach ${url.host}: ${(err as NodeJS.ErrnoException).code ?? "connection failed"}`, true);
    }
    return readCapped(url, res, request.maxBytes, request.jsonPath);
  };
  return { manifest, handler: handler as SkillHandler<never>, settingsFrom: "http.fetch" };
}

async function readCapped(url: URL, res: IncomingMessage, maxBytes: number, jsonPath?: string): Promise<SkillResult> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let truncated = false;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (bytes + chunk.length > maxBytes) {
      chunks.push(chunk.subarray(0, maxBytes - bytes));
      bytes = maxBytes;
      truncated = true;
      break;
    }
    chunks.push(chunk);
    bytes += chunk.length;
  }
  res.destroy();
  const status = res.statusCode ?? 0;
  if (status < 200 || status >= 300)
    return fail(`${url.host} answered HTTP ${status}`, status === 429 || status >= 500);
  const text = Buffer.concat(chunks).toString("utf8");
  if (!jsonPath) return { ok: true, content: truncated ? `${text}\n[response cut at ${maxBytes} bytes]` : text };
  if (truncated) return fail(`the response is larger than the tool's cap (${maxBytes} bytes)`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return fail("the response is not JSON");
  }
  const picked = pickJsonPath(json, jsonPath);
  if (picked === undefined) return fail(`the response has nothing at ${jsonPath}`);
  return { ok: true, content: typeof picked === "string" ? picked : JSON.stringify(picked) };
}

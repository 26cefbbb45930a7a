/**
 * MCP servers as skill sources (streamable HTTP transport, the official SDK's client).
 *
 * Each tool of a server becomes a skill `mcp.<server>.<tool>`; its manifest is built here from
 * the definition an admin approved (description, JSON Schema input, annotations), so the input
 * is validated by `runSkill` like a built-in skill's before any request is sent.
 *
 * One connected client per server and process, reused by every call (the SDK's initialize
 * handshake happens once); a call that fails at the transport drops the client, so the next call
 * connects again. One circuit breaker per server: a connection error or a timeout counts against
 * it (a tool answering `isError` does not: the server is healthy); while open, calls are
 * refused at once with a status line instead of waiting for a dead server.
 */
import { createHash } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { z } from "zod";
import { BreakerOpenError, BreakerRegistry } from "./breakers.ts";
import { canonicalJson, fail, type SkillContext, type SkillHandler, type SkillResult } from "./handler.ts";
import { defineSkill, noSettings, type RiskClass, type SkillManifest } from "./manifest.ts";
import { traceContext, tracedFetch, traceparent } from "./traceparent.ts";

export const MCP_SERVER_NAME = /^[a-z][a-z0-9_]{0,39}$/;
export const MCP_SERVER_NAME_HELP = "lowercase letters, digits and _ (starting with a letter, up to 40)";
/** Header names an MCP server entry may set (values always come from env vars). */
export const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;

/** A registered server as the runtime calls it. `headers`: header name -> env var NAME. */
export interface McpServerConfig {
  name: string;
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  maxConcurrency: number;
}

/** What pinning covers: a change to any of it is a changed tool. */
export interface McpToolDefinition {
  description: string;
  inputSchema: Record<string, unknown>;
  annotations: Record<string, unknown>;
}

export interface ListedTool extends McpToolDefinition {
  /** The tool's name on its server. */
  name: string;
}

/** sha256 of the definition in canonical JSON (key order does not matter). */
export function definitionHash(def: McpToolDefinition | object): string {
  return createHash("sha256").update(canonicalJson(def)).digest("hex");
}

/** readOnlyHint -> READ, destructiveHint -> DESTRUCTIVE, anything else WRITE (a missing hint is not trusted). */
export function riskFromAnnotations(annotations: Record<string, unknown>): RiskClass {
  if (annotations.destructiveHint === true) return "DESTRUCTIVE";
  if (annotations.readOnlyHint === true) return "READ";
  return "WRITE";
}

/** `mcp.<server>.<tool>`: the tool name lowercased, other characters to `_`; undefined when unusable. */
export function mcpSkillKey(server: string, toolName: string): string | undefined {
  const tool = toolName
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, "_")
    .replace(/^[^a-z]+/, "");
  if (!tool || tool.length > 48 || !MCP_SERVER_NAME.test(server)) return undefined;
  return `mcp.${server}.${tool}`;
}

/** Only unhealthy answers throw inside the breaker, so every error counts. */
export const mcpBreakers = new BreakerRegistry("mcp", () => true);

/** The server cannot be used right now: the status line says why (no secret, no payload). */
export class McpUnavailableError extends Error {
  override name = "McpUnavailableError";
}

const CLIENT_INFO = { name: "clawgate", version: "1.0.0" };

interface Connection {
  id: string;
  client: Promise<Client>;
}

/** Connected clients by server, reused by every call of this process. */
export class McpClients {
  readonly #connections = new Map<string, Connection>();

  /** Headers with their values read from env (by `getSecret`); throws naming a missing variable. */
  static headers(server: McpServerConfig, getSecret: (name: string) => string | undefined): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [header, envName] of Object.entries(server.headers)) {
      const value = getSecret(envName);
      if (value === undefined || value === "")
        throw new McpUnavailableError(`header ${header}: the env var ${envName} is not set (or not allowed)`);
      out[header] = value;
    }
    return out;
  }

  #client(server: McpServerConfig, headers: Record<string, string>, signal: AbortSignal): Promise<Client> {
    // A changed URL, timeout or header value is a new connection.
    const id = canonicalJson({ url: server.url, headers, timeoutMs: server.timeoutMs });
    const known = this.#connections.get(server.name);
    if (known?.id === id) return known.client;
    if (known) void known.client.then((c) => c.close()).catch(() => undefined);
    const client = (async () => {
      const c = new Client(CLIENT_INFO, { capabilities: {} });
      // One connection serves every call: each request's traceparent comes from the call (tracedFetch).
      const transport = new StreamableHTTPClientTransport(new URL(server.url), {
        requestInit: { headers, redirect: "error" },
        fetch: tracedFetch(),
      });
      await c.connect(transport, { signal, timeout: server.timeoutMs });
      return c;
    })();
    const entry = { id, client };
    this.#connections.set(server.name, entry);
    client.catch(() => {
      if (this.#connections.get(server.name) === entry) this.#connections.delete(server.name);
    });
    return client;
  }

  /** Forgets a server's connection (after a transport failure, or when it is removed). */
  drop(serverName: string): void {
    const known = this.#connections.get(serverName);
    this.#connections.delete(serverName);
    if (known) void known.client.then((c) => c.close()).catch(() => undefined);
  }

  async #use<T>(
    server: McpServerConfig,
    getSecret: (name: string) => string | undefined,
    signal: AbortSignal,
    fn: (client: Client) => Promise<T>,
  ): Promise<T> {
    const headers = McpClients.headers(server, getSecret);
    try {
      return await mcpBreakers.run(server.name, async () => {
        try {
          return await fn(await this.#client(server, headers, signal));
        } catch (error) {
          this.drop(server.name);
          throw error;
        }
      });
    } catch (error) {
      if (error instanceof BreakerOpenError)
        throw new McpUnavailableError(
          `the MCP server ${server.name} is unavailable after repeated failures (circuit breaker open); try again in a few minutes`,
        );
      if (signal.aborted) throw error;
      throw new McpUnavailableError(`the MCP server ${server.name} is unavailable: ${describe(error)}`);
    }
  }

  /** Every tool the server lists (all pages). */
  async listTools(
    server: McpServerConfig,
    getSecret: (name: string) => string | undefined,
    signal: AbortSignal,
  ): Promise<ListedTool[]> {
    return this.#use(server, getSecret, signal, async (client) => {
      const tools: ListedTool[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor ? { cursor } : {}, { signal, timeout: server.timeoutMs });
        for (const t of page.tools)
          tools.push({
            name: t.name,
            description: t.description ?? "",
            inputSchema: t.inputSchema as Record<string, unknown>,
            annotations: (t.annotations ?? {}) as Record<string, unknown>,
          });
        cursor = page.nextCursor;
      } while (cursor && tools.length < 1_000);
      return tools;
    });
  }

  async callTool(
    server: McpServerConfig,
    toolName: string,
    args: Record<string, unknown>,
    getSecret: (name: string) => string | undefined,
    signal: AbortSignal,
    traceId?: string,
  ): Promise<SkillResult> {
    const call = () =>
      this.#use(server, getSecret, signal, (client) =>
        client.callTool({ name: toolName, arguments: args }, undefined, { signal, timeout: server.timeoutMs }),
      );
    const result = await (traceId ? traceContext.run(traceparent(traceId), call) : call());
    const text = resultText(result as { content?: unknown; structuredContent?: unknown });
    if (result.isError === true) return fail(`the tool answered with an error: ${text.slice(0, 500)}`);
    return { ok: true, content: text };
  }

  async close(): Promise<void> {
    const all = [...this.#connections.values()];
    this.#connections.clear();
    await Promise.all(all.map((c) => c.client.then((x) => x.close()).catch(() => undefined)));
  }
}

function describe(error: unknown): string {
  const e = error as { code?: unknown; cause?: { code?: unknown }; message?: unknown };
  const code = e?.cause?.code ?? e?.code;
  const message = error instanceof Error ? error.message : String(error);
  return `${typeof code === "string" ? `${code}: ` : ""}${message}`.slice(0, 300);
}

/** The text the model reads: text parts joined; other parts named; structured content as JSON. */
function resultText(result: { content?: unknown; structuredContent?: unknown }): string {
  const parts = Array.isArray(result.content) ? (result.content as { type?: string; text?: string }[]) : [];
  const texts = parts.map((p) => (p.type === "text" && typeof p.text === "string" ? p.text : `[${p.type ?? "part"}]`));
  if (texts.length === 0 && result.structuredContent !== undefined) return JSON.stringify(result.structuredContent);
  return texts.join("\n").trim() || "(no content)";
}

/** The process's clients (the runtime's tool calls and syncs share them). */
export const mcpClients = new McpClients();

/**
 * A JSON Schema as a zod schema (zod's own converter), so `runSkill` validates the model's
 * arguments like a built-in skill's. A schema it cannot convert refuses every input (fail closed).
 */
export function jsonSchemaInput(schema: Record<string, unknown>): z.ZodType {
  try {
    return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch {
    return z.never({ error: "the tool's input schema could not be read; the tool cannot be called" });
  }
}

export interface McpSkillRow {
  key: string;
  riskClass: RiskClass;
  requiresApproval: boolean;
  toolName: string;
  definition: McpToolDefinition;
}

/** The manifest and handler of an approved MCP tool, calling it through `clients`. */
export function mcpSkill(
  server: McpServerConfig,
  row: McpSkillRow,
  clients: McpClients = mcpClients,
): { manifest: SkillManifest; handler: SkillHandler<never> } {
  const manifest = defineSkill({
    key: row.key,
    description: row.definition.description || `MCP tool ${row.toolName} of ${server.name}`,
    riskClass: row.riskClass,
    requiresApproval: row.requiresApproval,
    enabledByDefault: false,
    timeoutMs: server.timeoutMs,
    cacheTtlSeconds: 0,
    settings: noSettings,
    input: jsonSchemaInput(row.definition.inputSchema),
    inputJsonSchema: row.definition.inputSchema,
    untrustedOutput: true,
  });
  const handler: SkillHandler<Record<string, unknown>> = async (input, ctx: SkillContext) => {
    try {
      return await clients.callTool(
        server,
        row.toolName,
        input ?? {},
        (n) => ctx.getSecret?.(n),
        ctx.signal,
        ctx.traceId,
      );
    } catch (error) {
      if (error instanceof McpUnavailableError) return fail(error.message, true);
      throw error;
    }
  };
  return { manifest, handler: handler as SkillHandler<never> };
}

/**
 * MCP servers as skill sources: their registration, the sync that turns each listed tool into a
 * Skill row `mcp.<server>.<tool>`, and an admin's approval of a tool (pinning).
 *
 * - A new tool is created DISABLED and unapproved (fail closed), with the risk class its
 *   annotations give (readOnlyHint READ, destructiveHint DESTRUCTIVE, else WRITE) and its output
 *   untrusted.
 * - Enabling a tool pins it: the hash of its definition (description, input schema, annotations)
 *   is stored as approved. An admin may raise the risk class, never lower it below the annotations'.
 * - A later listing whose definition differs from the approved one (or that no longer lists the
 *   tool) stores it as `pendingDefinition`: the policy withdraws the skill (not offered, not
 *   callable) until an admin approves the change, which is audited and bumps the revision.
 * - A server that cannot be listed keeps its skills as they are (an open breaker refuses their
 *   calls at once) and records the status line on the server row.
 */
import { Prisma, type Db, type Tx } from "@clawgate/db";
import {
  definitionHash,
  HEADER_NAME,
  MCP_SERVER_NAME,
  MCP_SERVER_NAME_HELP,
  mcpClients,
  mcpSkillKey,
  riskFromAnnotations,
  type ListedTool,
  type McpClients,
  type McpServerConfig,
  type McpToolDefinition,
  type RiskClass,
} from "@clawgate/skills";
import { z } from "zod";
import type { Actor } from "../actor.ts";
import { diffFields, type FieldDiff } from "../diff.ts";
import { DomainError } from "../errors.ts";
import { recordConfigChange } from "../revision.ts";
import { secretRefProblem, type SecretRefPolicy } from "../secret-refs.ts";

export const MCP_SYNC_ACTOR: Actor = { type: "SYSTEM", name: "mcp sync" };
export const RISK_ORDER: Record<RiskClass, number> = { READ: 0, WRITE: 1, DESTRUCTIVE: 2 };

export const mcpServerSchema = z.strictObject({
  name: z.string().regex(MCP_SERVER_NAME, { error: `server names are ${MCP_SERVER_NAME_HELP}` }),
  url: z.url({ protocol: /^https?$/, hostname: /./, error: "must be an http(s) URL" }),
  /** Header name -> env var NAME (never a value). */
  headers: z
    .record(z.string().regex(HEADER_NAME, { error: "header names are letters, digits and -" }), z.string())
    .default({}),
  timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  maxConcurrency: z.number().int().min(1).max(1_000).default(4),
  enabled: z.boolean().default(true),
});
export type McpServerInput = z.input<typeof mcpServerSchema>;

/** One line per header whose env var may not be used (the model keys' rules: never Clawgate's own settings, the allowlist). */
export function mcpHeaderProblems(headers: Record<string, string>, policy: SecretRefPolicy): string[] {
  return Object.entries(headers).flatMap(([header, envName]) => {
    const problem = secretRefProblem(envName, "skill_secret", policy);
    return problem ? [`headers.${header}: ${problem}`] : [];
  });
}

/** The runtime's view of a server row. */
export function serverConfig(row: {
  name: string;
  url: string;
  headers: unknown;
  timeoutMs: number;
  maxConcurrency: number;
}): McpServerConfig {
  const headers =
    row.headers && typeof row.headers === "object" && !Array.isArray(row.headers)
      ? Object.fromEntries(Object.entries(row.headers).filter((e): e is [string, string] => typeof e[1] === "string"))
      : {};
  return { name: row.name, url: row.url, headers, timeoutMs: row.timeoutMs, maxConcurrency: row.maxConcurrency };
}

/**
 * Creates or changes a server (on the caller's transaction; the caller audits). Returns the
 * diff, or null when nothing changed. Header values are env var names, so the diff may show them.
 */
export async function upsertMcpServer(
  tx: Tx,
  input: McpServerInput,
  policy: SecretRefPolicy,
  write = true,
): Promise<{ action: "create" | "update"; diff: FieldDiff } | null> {
  const parsed = mcpServerSchema.safeParse(input);
  if (!parsed.success)
    throw new DomainError("BAD_REQUEST", "Invalid MCP server.", {
      problems: parsed.error.issues.map((i) => `${i.path.join(".") || "server"}: ${i.message}`),
    });
  const { name, ...desired } = parsed.data;
  const problems = mcpHeaderProblems(desired.headers, policy);
  if (problems.length > 0) throw new DomainError("BAD_REQUEST", problems.join("; "), { problems });
  const before = await tx.mcpServer.findUnique({ where: { name } });
  if (!before) {
    if (write) await tx.mcpServer.create({ data: { name, ...desired } });
    return { action: "create", diff: diffFields(null, desired) };
  }
  const was = {
    url: before.url,
    headers: before.headers,
    timeoutMs: before.timeoutMs,
    maxConcurrency: before.maxConcurrency,
    enabled: before.enabled,
  };
  const diff = diffFields(was, desired);
  if (Object.keys(diff).length === 0) return null;
  if (write) await tx.mcpServer.update({ where: { name }, data: desired });
  return { action: "update", diff };
}

const asDefinition = (tool: ListedTool): McpToolDefinition => ({
  description: tool.description,
  inputSchema: tool.inputSchema,
  annotations: tool.annotations,
});

export interface SyncChange {
  skillKey: string;
  action: "create" | "update" | "withdraw" | "restore";
  detail?: string;
}

export interface SyncResult {
  server: string;
  ok: boolean;
  /** The status line: tools listed, or why the server could not be listed. */
  status: string;
  changes: SyncChange[];
  configRevision: number | null;
}

export interface SyncOptions {
  clients?: McpClients;
  /** Reads a header's env var (the runtime's secret reader under its policy). */
  getSecret: (name: string) => string | undefined;
  now?: () => Date;
  actor?: Actor;
}

/** Lists one server's tools and brings its Skill rows in line (see the file comment). */
export async function syncMcpServer(db: Db, name: string, opts: SyncOptions): Promise<SyncResult> {
  const server = await db.mcpServer.findUnique({ where: { name } });
  if (!server) throw new DomainError("NOT_FOUND", `There is no MCP server "${name}".`);
  const now = opts.now ?? (() => new Date());
  const config = serverConfig(server);
  let tools: ListedTool[];
  try {
    tools = await (opts.clients ?? mcpClients).listTools(config, opts.getSecret, AbortSignal.timeout(config.timeoutMs));
  } catch (error) {
    const status = (error instanceof Error ? error.message : String(error)).slice(0, 500);
    await db.mcpServer.update({ where: { name }, data: { lastError: status, lastCheckedAt: now() } });
    return { server: name, ok: false, status, changes: [], configRevision: null };
  }
  return db.$transaction(async (tx) => {
    // One sync of a server at a time, across replicas.
    await tx.$queryRaw`SELECT 1 FROM "McpServer" WHERE "id" = ${server.id} FOR UPDATE`;
    const changes = await applyListing(tx, server.id, name, tools);
    const skipped = tools.length - tools.filter((t) => mcpSkillKey(name, t.name)).length;
    const status = `listed ${tools.length} tool(s)${skipped ? `, ${skipped} with an unusable name skipped` : ""}`;
    await tx.mcpServer.update({
      where: { name },
      data: { lastError: null, lastListedAt: now(), lastCheckedAt: now() },
    });
    if (changes.length === 0) return { server: name, ok: true, status, changes, configRevision: null };
    const configRevision = await recordConfigChange(tx, {
      actor: opts.actor ?? MCP_SYNC_ACTOR,
      action: "mcp.sync",
      targetType: "mcp_server",
      targetId: name,
      diff: { changes } as unknown as Record<string, unknown>,
      summary: `MCP server ${name}: ${changes.map((c) => `${c.action} ${c.skillKey}`).join(", ")}`,
    });
    return { server: name, ok: true, status, changes, configRevision };
  });
}

async function applyListing(tx: Tx, serverId: string, name: string, tools: ListedTool[]): Promise<SyncChange[]> {
  const changes: SyncChange[] = [];
  const stored = new Map(
    (await tx.skill.findMany({ where: { mcpServerId: serverId } })).map((s) => [s.key, s] as const),
  );
  const seen = new Set<string>();
  for (const tool of tools) {
    const key = mcpSkillKey(name, tool.name);
    if (!key || seen.has(key)) continue;
    seen.add(key);
    const def = asDefinition(tool);
    const hash = definitionHash(def);
    const before = stored.get(key);
    const json = def as unknown as Prisma.InputJsonObject;
    if (!before) {
      const clash = await tx.skill.findUnique({ where: { key }, select: { key: true } });
      if (clash) continue; // a skill of another source holds the key: never taken over
      const riskClass = riskFromAnnotations(tool.annotations);
      await tx.skill.create({
        data: {
          key,
          description: def.description.slice(0, 2_000) || `MCP tool ${tool.name} of ${name}`,
          riskClass,
          enabled: false,
          requiresApproval: riskClass !== "READ",
          source: "MCP",
          untrustedOutput: true,
          definition: json,
          mcpServerId: serverId,
          toolName: tool.name,
        },
      });
      changes.push({ skillKey: key, action: "create", detail: riskClass });
      continue;
    }
    if (!before.approvedHash) {
      // Never approved: nothing to protect, it simply follows the server until an admin enables it.
      if (before.definition && definitionHash(before.definition as object) === hash && !before.pendingDefinition)
        continue;
      await tx.skill.update({
        where: { key },
        data: {
          definition: json,
          description: def.description.slice(0, 2_000) || before.description,
          riskClass: maxRisk(before.riskClass, riskFromAnnotations(tool.annotations)),
          pendingDefinition: Prisma.DbNull,
          toolName: tool.name,
        },
      });
      changes.push({ skillKey: key, action: "update" });
      continue;
    }
    if (hash === before.approvedHash) {
      if (before.pendingDefinition !== null) {
        // The server went back to what was approved.
        await tx.skill.update({ where: { key }, data: { pendingDefinition: Prisma.DbNull } });
        changes.push({ skillKey: key, action: "restore" });
      }
      continue;
    }
    if (before.pendingDefinition && definitionHash(before.pendingDefinition as object) === hash) continue;
    await tx.skill.update({ where: { key }, data: { pendingDefinition: json } });
    changes.push({ skillKey: key, action: "withdraw", detail: "definition changed on the server" });
  }
  for (const s of stored.values()) {
    if (seen.has(s.key) || !s.approvedHash) continue;
    const removed = { removed: true };
    if (s.pendingDefinition && definitionHash(s.pendingDefinition as object) === definitionHash(removed)) continue;
    await tx.skill.update({ where: { key: s.key }, data: { pendingDefinition: removed } });
    changes.push({ skillKey: s.key, action: "withdraw", detail: "no longer listed by the server" });
  }
  return changes;
}

const maxRisk = (a: RiskClass, b: RiskClass): RiskClass => (RISK_ORDER[a] >= RISK_ORDER[b] ? a : b);

/** Syncs every enabled server; one failing server does not stop the others. */
export async function syncMcpServers(db: Db, opts: SyncOptions): Promise<SyncResult[]> {
  const servers = await db.mcpServer.findMany({ where: { enabled: true }, select: { name: true } });
  const results: SyncResult[] = [];
  for (const s of servers) results.push(await syncMcpServer(db, s.name, opts));
  return results;
}

/** The runtime's job that lists MCP servers' tools; payload `{ server? }` (all when absent). */
export const MCP_SYNC_TASK = "mcp.sync";

/**
 * Asks the runtime to list a server's tools now (the console's "refresh"): a queue job, so only
 * the runtime reads the headers' env vars. False when the queue's schema does not exist yet.
 */
export async function requestMcpSync(db: Db | Tx, server?: string): Promise<boolean> {
  const [schema] = await db.$queryRaw<
    { present: boolean }[]
  >`SELECT to_regnamespace('graphile_worker') IS NOT NULL AS present`;
  if (!schema?.present) return false;
  const payload = JSON.stringify(server ? { server } : {});
  await db.$queryRaw`SELECT 1 FROM graphile_worker.add_job(${MCP_SYNC_TASK}, ${payload}::json,
    max_attempts := 1, job_key := ${`${MCP_SYNC_TASK}:${server ?? "*"}`})`;
  return true;
}

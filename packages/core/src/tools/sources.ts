/**
 * Tool sources page: the MCP servers with their tools, and an admin's decisions on a tool:
 * enable (pins the definition), re-approve a changed definition, set how its output is treated.
 * Each change function runs on the caller's transaction and returns the diff and summary the
 * console's `configMutation` audits with a new config revision.
 */
import { Prisma, type Db, type Tx } from "@clawgate/db";
import { definitionHash, riskFromAnnotations, RISK_CLASSES, type RiskClass } from "@clawgate/skills";
import { z } from "zod";
import { canonicalJson } from "../audit.ts";
import type { FieldDiff } from "../diff.ts";
import { DomainError } from "../errors.ts";
import { RISK_ORDER } from "./mcp.ts";

const key = z.string().trim().min(1, { error: "key is required" }).max(100);

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "input"}: ${i.message}`);
    throw new DomainError("BAD_REQUEST", problems.join("; "), { problems });
  }
  return parsed.data;
}

type Definition = { description?: unknown; inputSchema?: unknown; annotations?: unknown; removed?: unknown };
const asDef = (v: unknown): Definition => (v && typeof v === "object" && !Array.isArray(v) ? (v as Definition) : {});
const annotationsOf = (v: unknown) => {
  const a = asDef(v).annotations;
  return a && typeof a === "object" && !Array.isArray(a) ? (a as Record<string, unknown>) : {};
};

export interface DefinitionChange {
  field: "description" | "inputSchema" | "annotations" | "removed";
  from: string;
  to: string;
}

/** What changed between the approved definition and the server's current one, field by field. */
export function definitionDiff(approved: unknown, current: unknown): DefinitionChange[] {
  const a = asDef(approved);
  const c = asDef(current);
  if (c.removed === true) return [{ field: "removed", from: "listed", to: "no longer listed by the server" }];
  const text = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v ?? null, null, 2));
  const fields = ["description", "inputSchema", "annotations"] as const;
  return fields.flatMap((field) =>
    canonicalJson(a[field] ?? null) === canonicalJson(c[field] ?? null)
      ? []
      : [{ field, from: text(a[field]), to: text(c[field]) }],
  );
}

async function lockedTool(tx: Tx, skillKey: string) {
  const locked = await tx.$queryRaw<{ key: string }[]>`SELECT key FROM "Skill" WHERE key = ${skillKey} FOR UPDATE`;
  if (locked.length === 0) throw new DomainError("NOT_FOUND", `There is no skill "${skillKey}".`);
  const s = await tx.skill.findUniqueOrThrow({ where: { key: skillKey } });
  if (s.source === "BUILTIN")
    throw new DomainError("BAD_REQUEST", `"${skillKey}" is a built-in skill: change it on the Skills page.`);
  return s;
}

export const toolEnableSchema = z.strictObject({
  key,
  enabled: z.boolean(),
  /** Stricter than the annotations' class only. */
  riskClass: z.enum(RISK_CLASSES).optional(),
});

export interface ToolChange {
  key: string;
  diff: FieldDiff | Record<string, unknown>;
  summary: string;
}

/**
 * Enables (pinning the current definition) or disables an outside tool. A tool whose server
 * changed it must be re-approved first; a risk class below its annotations' is refused.
 */
export async function enableTool(tx: Tx, input: z.input<typeof toolEnableSchema>): Promise<ToolChange> {
  const c = parse(toolEnableSchema, input);
  const s = await lockedTool(tx, c.key);
  if (c.enabled && s.pendingDefinition !== null)
    throw new DomainError(
      "CONFLICT",
      `"${c.key}" changed on its server since it was approved: review and approve the change first.`,
    );
  const floor = s.source === "MCP" ? riskFromAnnotations(annotationsOf(s.definition)) : s.riskClass;
  const riskClass: RiskClass = c.riskClass ?? s.riskClass;
  if (RISK_ORDER[riskClass] < RISK_ORDER[floor])
    throw new DomainError(
      "BAD_REQUEST",
      `"${c.key}" is ${floor} by its definition: its risk class can be made stricter, not ${riskClass}.`,
    );
  const approvedHash = c.enabled && s.definition ? definitionHash(s.definition as object) : s.approvedHash;
  const requiresApproval = s.requiresApproval || riskClass === "DESTRUCTIVE";
  const diff: Record<string, { from: unknown; to: unknown }> = {};
  if (s.enabled !== c.enabled) diff.enabled = { from: s.enabled, to: c.enabled };
  if (s.riskClass !== riskClass) diff.riskClass = { from: s.riskClass, to: riskClass };
  if (s.approvedHash !== approvedHash) diff.approvedHash = { from: s.approvedHash, to: approvedHash };
  if (Object.keys(diff).length === 0)
    throw new DomainError("CONFLICT", `Nothing changed: "${c.key}" already has these settings.`);
  await tx.skill.update({
    where: { key: c.key },
    data: { enabled: c.enabled, riskClass, approvedHash, requiresApproval: requiresApproval || riskClass !== "READ" },
  });
  return {
    key: c.key,
    diff,
    summary: `Tool "${c.key}": ${c.enabled ? `enabled as ${riskClass}, definition pinned` : "disabled"}`,
  };
}

export const toolApproveChangeSchema = z.strictObject({ key });

/** Accepts the server's changed definition of a tool: pinned anew, the skill is offered again. */
export async function approveToolChange(tx: Tx, input: z.input<typeof toolApproveChangeSchema>): Promise<ToolChange> {
  const c = parse(toolApproveChangeSchema, input);
  const s = await lockedTool(tx, c.key);
  if (s.pendingDefinition === null) throw new DomainError("CONFLICT", `"${c.key}" has no pending change to approve.`);
  const pending = asDef(s.pendingDefinition);
  if (pending.removed === true)
    throw new DomainError(
      "CONFLICT",
      `"${c.key}" is no longer listed by its server: there is nothing to approve (disable it, or wait for the server to list it again).`,
    );
  const changes = definitionDiff(s.definition, s.pendingDefinition);
  const riskClass = [s.riskClass, riskFromAnnotations(annotationsOf(pending))].reduce((a, b) =>
    RISK_ORDER[a] >= RISK_ORDER[b] ? a : b,
  );
  await tx.skill.update({
    where: { key: c.key },
    data: {
      definition: s.pendingDefinition as Prisma.InputJsonObject,
      pendingDefinition: Prisma.DbNull,
      approvedHash: definitionHash(s.pendingDefinition as object),
      description: typeof pending.description === "string" && pending.description ? pending.description : s.description,
      riskClass,
      requiresApproval: s.requiresApproval || riskClass !== "READ",
    },
  });
  return {
    key: c.key,
    diff: { definition: { changed: changes.map((d) => d.field) }, riskClass: { from: s.riskClass, to: riskClass } },
    summary: `Tool "${c.key}": changed definition approved (${changes.map((d) => d.field).join(", ")})`,
  };
}

export const toolOutputSchema = z.strictObject({
  key,
  untrustedOutput: z.boolean().optional(),
  outputMaxChars: z.number().int().min(100).max(100_000).nullable().optional(),
  maskPii: z.boolean().optional(),
});

/** How a tool's output is treated (any skill, built-in included: http.fetch is untrusted by default). */
export async function setToolOutput(tx: Tx, input: z.input<typeof toolOutputSchema>): Promise<ToolChange> {
  const { key: k, ...change } = parse(toolOutputSchema, input);
  const locked = await tx.$queryRaw<{ key: string }[]>`SELECT key FROM "Skill" WHERE key = ${k} FOR UPDATE`;
  if (locked.length === 0) throw new DomainError("NOT_FOUND", `There is no skill "${k}".`);
  const s = await tx.skill.findUniqueOrThrow({ where: { key: k } });
  const diff: Record<string, { from: unknown; to: unknown }> = {};
  for (const [field, to] of Object.entries(change)) {
    const from = s[field as keyof typeof change];
    if (to !== undefined && from !== to) diff[field] = { from, to };
  }
  if (Object.keys(diff).length === 0) throw new DomainError("CONFLICT", `Nothing changed for "${k}".`);
  await tx.skill.update({ where: { key: k }, data: change });
  return { key: k, diff, summary: `Skill "${k}": output ${Object.keys(diff).join(", ")} changed` };
}

/** The Tool sources page: servers, their tools and each tool's state. */
export async function listToolSources(db: Db | Tx) {
  const [servers, tools] = await Promise.all([
    db.mcpServer.findMany({ orderBy: { name: "asc" } }),
    db.skill.findMany({ where: { source: { not: "BUILTIN" } }, orderBy: { key: "asc" } }),
  ]);
  const toolView = (s: (typeof tools)[number]) => ({
    key: s.key,
    source: s.source,
    toolName: s.toolName,
    description: s.description,
    riskClass: s.riskClass,
    annotationRisk: s.source === "MCP" ? riskFromAnnotations(annotationsOf(s.definition)) : s.riskClass,
    enabled: s.enabled,
    requiresApproval: s.requiresApproval,
    untrustedOutput: s.untrustedOutput,
    maskPii: s.maskPii,
    outputMaxChars: s.outputMaxChars,
    state: !s.approvedHash
      ? ("unapproved" as const)
      : s.pendingDefinition !== null
        ? ("changed" as const)
        : ("approved" as const),
    pendingChanges: s.pendingDefinition !== null ? definitionDiff(s.definition, s.pendingDefinition) : [],
  });
  return {
    servers: servers.map((srv) => ({
      name: srv.name,
      url: srv.url,
      headers: Object.keys(asDef(srv.headers) as object),
      timeoutMs: srv.timeoutMs,
      maxConcurrency: srv.maxConcurrency,
      enabled: srv.enabled,
      lastListedAt: srv.lastListedAt,
      lastCheckedAt: srv.lastCheckedAt,
      status: srv.lastError ? `unavailable: ${srv.lastError}` : srv.lastListedAt ? "ok" : "not listed yet",
      tools: tools.filter((t) => t.mcpServerId === srv.id).map(toolView),
    })),
    httpTools: tools.filter((t) => t.source === "HTTP").map(toolView),
  };
}

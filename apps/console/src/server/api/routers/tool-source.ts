/**
 * Tool sources: MCP servers and HTTP tools (issue 13). Viewers read; admins register a server,
 * ask for a refresh (the runtime lists the tools: only it reads the headers' env vars), enable a
 * tool (pinning its definition), approve a changed definition, and set how a tool's output is
 * treated. Every change is audited with a new config revision; core throws DomainError.
 */
import { mcpServerSchema, requestMcpSync, upsertMcpServer } from "@clawgate/core/tools/mcp.ts";
import {
  approveToolChange,
  enableTool,
  listToolSources,
  setToolOutput,
  toolApproveChangeSchema,
  toolEnableSchema,
  toolOutputSchema,
  type ToolChange,
} from "@clawgate/core/tools/sources.ts";
import { RiskClass, SkillSource } from "@clawgate/db/enums";
import { DomainError } from "@clawgate/core/errors.ts";
import type { AuditAction } from "@clawgate/core";
import { z } from "zod";
import { auditedMutation, configMutation } from "../mutation.ts";
import { adminProcedure, createTRPCRouter, viewerProcedure } from "../trpc.ts";

const toolOutput = z.object({
  key: z.string(),
  source: z.enum(SkillSource),
  toolName: z.string().nullable(),
  description: z.string(),
  riskClass: z.enum(RiskClass),
  annotationRisk: z.enum(RiskClass),
  enabled: z.boolean(),
  requiresApproval: z.boolean(),
  untrustedOutput: z.boolean(),
  maskPii: z.boolean(),
  outputMaxChars: z.number().int().nullable(),
  state: z.enum(["unapproved", "approved", "changed"]),
  pendingChanges: z.array(
    z.object({
      field: z.enum(["description", "inputSchema", "annotations", "removed"]),
      from: z.string(),
      to: z.string(),
    }),
  ),
});

export const toolSourceListOutput = z.object({
  servers: z.array(
    z.object({
      name: z.string(),
      url: z.string(),
      headers: z.array(z.string()),
      timeoutMs: z.number().int(),
      maxConcurrency: z.number().int(),
      enabled: z.boolean(),
      lastListedAt: z.date().nullable(),
      lastCheckedAt: z.date().nullable(),
      status: z.string(),
      tools: z.array(toolOutput),
    }),
  ),
  httpTools: z.array(toolOutput),
});
export type ToolSources = z.infer<typeof toolSourceListOutput>;

const changeOutput = z.object({ key: z.string(), summary: z.string(), revision: z.number().int().nullable() });

const toolRecord = (action: AuditAction) => (c: ToolChange) => ({
  action,
  targetType: "skill",
  targetId: c.key,
  diff: c.diff,
  summary: c.summary,
});

export const toolSourceRouter = createTRPCRouter({
  list: viewerProcedure.output(toolSourceListOutput).query(({ ctx }) => listToolSources(ctx.db)),

  /** Registers or changes an MCP server (headers: header name -> env var NAME). */
  upsertServer: adminProcedure
    .input(mcpServerSchema)
    .output(z.object({ name: z.string(), revision: z.number().int().nullable() }))
    .mutation(({ ctx, input }) =>
      (async () => {
        const { revision } = await configMutation(
          ctx,
          (r: { action: "create" | "update"; diff: Record<string, unknown> }) => ({
            action: `mcp_server.${r.action}`,
            targetType: "mcp_server",
            targetId: input.name,
            diff: r.diff,
            summary: `MCP server ${input.name}: ${r.action}`,
          }),
          async (tx) => {
            const change = await upsertMcpServer(tx, input, ctx.secretRefs);
            if (!change)
              throw new DomainError(
                "CONFLICT",
                `Nothing changed: MCP server "${input.name}" already has these settings.`,
              );
            return change;
          },
        );
        // Its tools are listed by the runtime (only it reads the headers' env vars).
        await requestMcpSync(ctx.db, input.name);
        return { name: input.name, revision };
      })(),
    ),

  /** Asks the runtime to list the server's tools now. */
  refresh: adminProcedure
    .input(z.object({ name: z.string().trim().min(1).max(64) }))
    .output(z.object({ queued: z.boolean() }))
    .mutation(({ ctx, input }) =>
      auditedMutation(
        ctx,
        { action: "mcp_server.refresh", targetType: "mcp_server", targetId: input.name },
        async (tx) => ({ queued: await requestMcpSync(tx, input.name) }),
      ),
    ),

  enable: adminProcedure
    .input(toolEnableSchema)
    .output(changeOutput)
    .mutation(({ ctx, input }) =>
      (async () => {
        const { result, revision } = await configMutation(ctx, toolRecord("tool.enable"), (tx) =>
          enableTool(tx, input),
        );
        return { key: result.key, summary: result.summary, revision };
      })(),
    ),

  approveChange: adminProcedure
    .input(toolApproveChangeSchema)
    .output(changeOutput)
    .mutation(({ ctx, input }) =>
      (async () => {
        const { result, revision } = await configMutation(ctx, toolRecord("tool.approve_change"), (tx) =>
          approveToolChange(tx, input),
        );
        return { key: result.key, summary: result.summary, revision };
      })(),
    ),

  setOutput: adminProcedure
    .input(toolOutputSchema)
    .output(changeOutput)
    .mutation(({ ctx, input }) =>
      (async () => {
        const { result, revision } = await configMutation(ctx, toolRecord("tool.output"), (tx) =>
          setToolOutput(tx, input),
        );
        return { key: result.key, summary: result.summary, revision };
      })(),
    ),
});

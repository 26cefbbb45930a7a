/**
 * Outside tools (MCP server tools, HTTP tools) as runnable skills, built from the definition an
 * admin approved. A row whose definition does not hash to the approved hash is not built at all
 * (the policy withdraws it too): the runtime never calls a definition nobody approved.
 */
import type { McpServerConfig } from "@clawgate/skills";
import { definitionHash, httpToolSkill, mcpSkill, type McpToolDefinition, type RiskClass } from "@clawgate/skills";
import type { Skill } from "./tools.ts";

export interface OutsideSkillRow {
  key: string;
  source: "BUILTIN" | "MCP" | "HTTP";
  riskClass: RiskClass;
  requiresApproval: boolean;
  definition: unknown;
  approvedHash: string | null;
  toolName: string | null;
  timeoutMs: number;
  mcpServer: { name: string; url: string; headers: unknown; timeoutMs: number; maxConcurrency: number } | null;
}

export function outsideSkill(
  row: OutsideSkillRow,
  serverConfig: (s: NonNullable<OutsideSkillRow["mcpServer"]>) => McpServerConfig,
): Skill | undefined {
  if (!row.definition || typeof row.definition !== "object" || !row.approvedHash) return undefined;
  if (definitionHash(row.definition) !== row.approvedHash) return undefined;
  if (row.source === "MCP") {
    if (!row.mcpServer || !row.toolName) return undefined;
    const server = serverConfig(row.mcpServer);
    const skill = mcpSkill(server, {
      key: row.key,
      riskClass: row.riskClass,
      requiresApproval: row.requiresApproval,
      toolName: row.toolName,
      definition: row.definition as McpToolDefinition,
    });
    return {
      ...skill,
      slots: { endpointName: `mcp:${server.name}`, maxConcurrency: server.maxConcurrency, timeoutMs: server.timeoutMs },
    };
  }
  if (row.source === "HTTP") {
    const skill = httpToolSkill(
      { key: row.key, riskClass: row.riskClass, requiresApproval: row.requiresApproval, timeoutMs: row.timeoutMs },
      row.definition,
    );
    return skill ?? undefined;
  }
  return undefined;
}

/**
 * The demo's MCP server (`npm start` runs packages/devstack/src/demo-mcp-server.ts): registered,
 * listed and its two tools enabled as an admin would on the Tool sources page, each step audited
 * with a config revision like any other change. A real install registers servers in the onboard
 * YAML (`mcp_servers`) or the console, and an admin enables each tool.
 */
import { Prisma, type Db } from "@clawgate/db";
import type { Actor } from "../actor.ts";
import { recordConfigChange } from "../revision.ts";
import { DEFAULT_SECRET_REF_POLICY } from "../secret-refs.ts";
import { syncMcpServer, upsertMcpServer, type SyncResult } from "../tools/mcp.ts";
import { enableTool } from "../tools/sources.ts";

export const DEMO_MCP_ACTOR: Actor = { type: "SYSTEM", name: "demo seed" };

export async function seedDemoMcp(
  db: Db,
  opts: { url: string; tokenEnv?: string; getSecret: (name: string) => string | undefined },
): Promise<{ sync: SyncResult; enabled: string[] }> {
  await db.$transaction(async (tx) => {
    const change = await upsertMcpServer(
      tx,
      { name: "demo", url: opts.url, headers: opts.tokenEnv ? { Authorization: opts.tokenEnv } : {}, timeoutMs: 5_000 },
      DEFAULT_SECRET_REF_POLICY,
    );
    if (change)
      await recordConfigChange(tx, {
        actor: DEMO_MCP_ACTOR,
        action: `mcp_server.${change.action}`,
        targetType: "mcp_server",
        targetId: "demo",
        diff: change.diff,
        summary: `MCP server demo: ${change.action}`,
      });
  });
  const sync = await syncMcpServer(db, "demo", { getSecret: opts.getSecret, actor: DEMO_MCP_ACTOR });
  const enabled: string[] = [];
  const tools = await db.skill.findMany({
    where: { mcpServer: { name: "demo" }, approvedHash: null, pendingDefinition: { equals: Prisma.DbNull } },
    select: { key: true },
  });
  for (const { key } of tools) {
    await db.$transaction(async (tx) => {
      const c = await enableTool(tx, { key, enabled: true });
      await recordConfigChange(tx, {
        actor: DEMO_MCP_ACTOR,
        action: "tool.enable",
        targetType: "skill",
        targetId: key,
        diff: c.diff,
        summary: c.summary,
      });
    });
    enabled.push(key);
  }
  return { sync, enabled };
}

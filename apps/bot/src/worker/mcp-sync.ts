/**
 * The `mcp.sync` job: lists the MCP servers' tools and brings their skills in line (core's
 * syncMcpServer: new tools disabled, changed ones withdrawn). Runs at queue start, every few
 * minutes, and when an admin asks for a refresh in the console. Header values are read here, in
 * the runtime, under the secret-reference rules.
 */
import { syncMcpServer, syncMcpServers, MCP_SYNC_TASK } from "@clawgate/core/tools/mcp.ts";
import type { Db } from "@clawgate/db";
import type { Task } from "graphile-worker";
import { z } from "zod";
import type { Logger } from "../logger.ts";
import { runtimeSecretRefs, skillSecretReader } from "../secret-refs.ts";

export { MCP_SYNC_TASK };
export const MCP_SYNC_EVERY_MS = 5 * 60_000;

const payloadSchema = z.object({ server: z.string().min(1).max(64).optional() }).catch({});

export function createMcpSync(db: Db, logger: Logger): Task {
  const log = logger.child({ component: "mcp-sync" });
  return async (raw) => {
    const { server } = payloadSchema.parse(raw ?? {});
    const getSecret = skillSecretReader(runtimeSecretRefs());
    const results = server
      ? [await syncMcpServer(db, server, { getSecret }).catch(() => null)].filter((r) => r !== null)
      : await syncMcpServers(db, { getSecret });
    for (const r of results) {
      const fields = { server: r.server, status: r.status, changes: r.changes.length, revision: r.configRevision };
      if (r.ok) log.info(fields, "mcp server listed");
      else log.warn(fields, "mcp server unavailable");
    }
  };
}

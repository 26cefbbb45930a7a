/**
 * The demo MCP server as a process: `node --import tsx packages/devstack/src/demo-mcp-server.ts`.
 * Env: DEMO_MCP_PORT (default 3500), DEMO_MCP_SERVER_TOKEN (optional: the bearer token it requires).
 * Tools: lookup_order (READ) and create_ticket (WRITE); see demo-mcp.ts.
 */
import { startDemoMcp } from "./demo-mcp.ts";

const port = Number(process.env.DEMO_MCP_PORT ?? 3500);
const token = process.env.DEMO_MCP_SERVER_TOKEN || undefined;
const mcp = await startDemoMcp({ port, ...(token ? { token } : {}) });
console.log(`[demo-mcp] ready at ${mcp.url}${token ? " (bearer token required)" : ""}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void mcp.close().then(() => process.exit(0));
  });
}

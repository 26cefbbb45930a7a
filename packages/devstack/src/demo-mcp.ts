/**
 * A small MCP server built with the official SDK (streamable HTTP, stateless): the demo's and the
 * tests' outside tool source. Two tools on a tiny in-memory order book:
 *   lookup_order (readOnlyHint: READ)   -> an order's status (and, for the injection demo, a note)
 *   create_ticket (no hint: WRITE)      -> records a ticket, returns its id
 * Tests change a tool's description (`redefine`) to play a server that changes a tool after it
 * was approved, read what was called (`calls`), and stop it to play a server that is down.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

export interface DemoMcpOptions {
  port?: number;
  host?: string;
  /** Required bearer token (the `authorization` header must be `Bearer <token>`). */
  token?: string;
  /** Extra text lookup_order returns for this order id (the injection test's poisoned record). */
  notes?: Record<string, string>;
}

export interface DemoMcp {
  url: string;
  port: number;
  /** Every tool call the server ran, in order. */
  calls: { tool: string; args: Record<string, unknown> }[];
  /** The `traceparent` header of each tool call's request (same order as `calls`). */
  callTraceparents: (string | undefined)[];
  tickets: { id: string; title: string }[];
  /** Changes a tool's description from now on (what a "rug pull" looks like to a client). */
  redefine(tool: "lookup_order" | "create_ticket", description: string): void;
  close(): Promise<void>;
}

const ORDERS: Record<string, string> = { "A-1001": "shipped", "A-1002": "packing", "A-1003": "delivered" };

export async function startDemoMcp(opts: DemoMcpOptions = {}): Promise<DemoMcp> {
  const calls: DemoMcp["calls"] = [];
  const callTraceparents: DemoMcp["callTraceparents"] = [];
  const traceOf = (extra: { requestInfo?: { headers: Record<string, string | string[] | undefined> } }) => {
    const h = extra.requestInfo?.headers.traceparent;
    callTraceparents.push(Array.isArray(h) ? h[0] : h);
  };
  const tickets: DemoMcp["tickets"] = [];
  const descriptions = {
    lookup_order: "Look up an order by its id (like A-1001) and return its status.",
    create_ticket: "Create a support ticket with a title. Changes data on the server.",
  };

  // Stateless: a fresh server per request (the SDK's pattern), built from the current definitions.
  const build = () => {
    const mcp = new McpServer({ name: "clawgate-demo-mcp", version: "1.0.0" });
    mcp.registerTool(
      "lookup_order",
      {
        description: descriptions.lookup_order,
        inputSchema: { orderId: z.string().regex(/^A-\d{4}$/) },
        annotations: { readOnlyHint: true },
      },
      ({ orderId }, extra) => {
        calls.push({ tool: "lookup_order", args: { orderId } });
        traceOf(extra);
        const status = ORDERS[orderId];
        const note = opts.notes?.[orderId];
        return {
          content: [
            {
              type: "text",
              text: status ? `Order ${orderId}: ${status}.${note ? ` Note: ${note}` : ""}` : `No order ${orderId}.`,
            },
          ],
        };
      },
    );
    mcp.registerTool(
      "create_ticket",
      {
        description: descriptions.create_ticket,
        inputSchema: { title: z.string().min(3).max(200) },
        annotations: { readOnlyHint: false },
      },
      ({ title }, extra) => {
        calls.push({ tool: "create_ticket", args: { title } });
        traceOf(extra);
        const id = `MCP-${tickets.length + 1}`;
        tickets.push({ id, title });
        return { content: [{ type: "text", text: `Created ticket ${id}: ${title}` }] };
      },
    );
    return mcp;
  };

  const server: Server = createServer((req, res) => {
    if (req.method === "GET" && req.url === "/health") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      return;
    }
    if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`) {
      res.writeHead(401, { "content-type": "application/json" }).end('{"error":"unauthorized"}');
      return;
    }
    if (req.method !== "POST") {
      res.writeHead(405, { allow: "POST" }).end();
      return;
    }
    const mcp = build();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on("close", () => {
      void transport.close();
      void mcp.close();
    });
    mcp
      .connect(transport)
      .then(() => transport.handleRequest(req, res))
      .catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? "127.0.0.1"}:${port}/mcp`,
    port,
    calls,
    callTraceparents,
    tickets,
    redefine: (tool, description) => {
      descriptions[tool] = description;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A fake of the company's internal HTTP API, for the kb.search / ticket.* skills in tests and the
 * demo. It serves the REST shapes documented in packages/skills/src/handlers/internal-api.ts:
 *   GET  /kb/search?q=&limit=   -> { results: [{ title, url, snippet }] }
 *   GET  /tickets/{id}          -> { id, status, owner, title } | 404
 *   POST /tickets               -> 201 { id, url }   (a repeated Idempotency-Key returns the same ticket)
 *   GET  /_fake/requests, POST /_fake/fault { mode: "error500" | "slow" | null, delayMs?, count? }
 * With `token`, every API request must carry `Authorization: Bearer <token>` (else 401).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { BodyTooLargeError, readRequestText } from "./http-body.ts";

export interface KbArticle {
  title: string;
  url: string;
  body: string;
}

export interface FakeTicket {
  id: string;
  status: string;
  owner: string | null;
  title: string;
  body?: string;
  reporter?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization?: string;
  idempotencyKey?: string;
  /** W3C trace context the caller sent (the runtime's message trace id). */
  traceparent?: string;
  body?: unknown;
  at: number;
}

export type FaultMode = "error500" | "slow";
export interface Fault {
  mode: FaultMode;
  /** slow: delay before answering (default 10 s). */
  delayMs?: number;
  /** Number of requests the fault applies to (default: until cleared). */
  count?: number;
}

export interface FakeInternalApi {
  url: string;
  port: number;
  requests: RecordedRequest[];
  tickets: Map<string, FakeTicket>;
  setFault(fault: Fault | null): void;
  close(): Promise<void>;
}

export const KB_ARTICLES: readonly KbArticle[] = [
  {
    title: "VPN setup on macOS and Windows",
    url: "https://kb.example.internal/vpn-setup",
    body: "Install the VPN client, sign in with SSO, and choose the nearest gateway. If the VPN drops, restart the client.",
  },
  {
    title: "Resetting your SSO password",
    url: "https://kb.example.internal/sso-password",
    body: "Use the self-service portal to reset your SSO password; a reset link is sent to your work email.",
  },
  {
    title: "On-call handbook: paging and escalation",
    url: "https://kb.example.internal/on-call",
    body: "Acknowledge a page within 5 minutes. Escalate to the secondary on-call after 15 minutes without progress.",
  },
  {
    title: "请假流程说明",
    url: "https://kb.example.internal/leave-policy",
    body: "在钉钉审批中提交请假申请，直属主管审批后生效。年假需提前三天申请。",
  },
  {
    title: "报销制度与发票要求",
    url: "https://kb.example.internal/expenses",
    body: "差旅报销需在出差结束后30天内提交，并附上合规发票。",
  },
  {
    title: "VPN 连接故障排查",
    url: "https://kb.example.internal/vpn-troubleshooting-zh",
    body: "VPN 无法连接时，先检查网络，再重启客户端；仍失败请联系 IT 服务台。",
  },
];

const SEED_TICKETS: readonly FakeTicket[] = [
  { id: "OPS-1", status: "open", owner: "alice", title: "Database backups failing on replica 2" },
  { id: "OPS-2", status: "in_progress", owner: "bob", title: "Rotate the TLS certificate for the API gateway" },
  { id: "OPS-3", status: "resolved", owner: "carol", title: "VPN gateway in Hangzhou drops connections" },
  { id: "OPS-4", status: "open", owner: null, title: "钉钉机器人回复延迟" },
  { id: "OPS-5", status: "closed", owner: "dave", title: "Disk usage alert on build agents" },
];

export function searchKb(
  query: string,
  limit: number,
  articles: readonly KbArticle[] = KB_ARTICLES,
): { title: string; url: string; snippet: string }[] {
  // Whitespace splits English words; a Chinese query without spaces is matched as one substring.
  const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
  return articles
    .map((a) => {
      const hay = `${a.title} ${a.body}`.toLowerCase();
      return { a, score: terms.filter((t) => hay.includes(t)).length };
    })
    .filter((r) => r.score > 0)
    .sort((x, y) => y.score - x.score)
    .slice(0, limit)
    .map(({ a }) => ({ title: a.title, url: a.url, snippet: a.body.slice(0, 120) }));
}

export async function startFakeInternalApi(opts: {
  port: number;
  token?: string;
  host?: string;
  /** The knowledge base kb.search finds in (default KB_ARTICLES). */
  articles?: readonly KbArticle[];
}): Promise<FakeInternalApi> {
  const requests: RecordedRequest[] = [];
  const tickets = new Map(SEED_TICKETS.map((t) => [t.id, { ...t }]));
  const byIdempotencyKey = new Map<string, { id: string; url: string }>();
  let fault: Fault | null = null;
  let base = "";

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const u = new URL(req.url ?? "/", "http://fake");
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      return send(res, 400, { error: "malformed JSON" });
    }
    if (u.pathname === "/_fake/requests") return send(res, 200, { requests });
    if (u.pathname === "/_fake/fault" && req.method === "POST") {
      const f = body as Fault | { mode: null } | undefined;
      fault = f && f.mode ? (f as Fault) : null;
      return send(res, 200, { fault });
    }

    requests.push({
      method: req.method ?? "GET",
      path: u.pathname,
      query: Object.fromEntries(u.searchParams),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      ...(typeof req.headers["idempotency-key"] === "string" ? { idempotencyKey: req.headers["idempotency-key"] } : {}),
      ...(typeof req.headers.traceparent === "string" ? { traceparent: req.headers.traceparent } : {}),
      ...(body !== undefined ? { body } : {}),
      at: Date.now(),
    });
    if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`)
      return send(res, 401, { error: "unauthorized" });

    if (fault) {
      const f = fault;
      if (f.count !== undefined && --f.count <= 0) fault = null;
      if (f.mode === "error500") return send(res, 500, { error: "injected fault" });
      await new Promise((r) => setTimeout(r, f.delayMs ?? 10_000));
    }
    route(req.method ?? "GET", u, body, req.headers["idempotency-key"], res);
  };

  const route = (
    method: string,
    u: URL,
    body: unknown,
    idemKey: string | string[] | undefined,
    res: ServerResponse,
  ): void => {
    if (method === "GET" && u.pathname === "/kb/search") {
      const limit = Math.min(Math.max(Number(u.searchParams.get("limit") ?? 3) || 3, 1), 10);
      return send(res, 200, { results: searchKb(u.searchParams.get("q") ?? "", limit, opts.articles) });
    }
    const ticketMatch = /^\/tickets\/([^/]+)$/.exec(u.pathname);
    if (method === "GET" && ticketMatch) {
      const t = tickets.get(decodeURIComponent(ticketMatch[1]!));
      return t
        ? send(res, 200, { id: t.id, status: t.status, owner: t.owner, title: t.title })
        : send(res, 404, { error: "not found" });
    }
    if (method === "POST" && u.pathname === "/tickets") {
      const b = body as { project?: unknown; title?: unknown; body?: unknown; reporter?: unknown } | undefined;
      if (
        typeof b?.project !== "string" ||
        !/^[A-Z][A-Z0-9]+$/.test(b.project) ||
        typeof b.title !== "string" ||
        !b.title
      ) {
        return send(res, 400, { error: "project and title are required" });
      }
      const key = typeof idemKey === "string" ? idemKey : undefined;
      const seen = key ? byIdempotencyKey.get(key) : undefined;
      if (seen) return send(res, 200, seen);
      const n = [...tickets.keys()].filter((id) => id.startsWith(`${b.project}-`)).length + 1;
      const id = `${b.project}-${n}`;
      tickets.set(id, {
        id,
        status: "open",
        owner: null,
        title: b.title,
        ...(typeof b.body === "string" ? { body: b.body } : {}),
        ...(typeof b.reporter === "string" ? { reporter: b.reporter } : {}),
      });
      const created = { id, url: `${base}/tickets/${id}` };
      if (key) byIdempotencyKey.set(key, created);
      return send(res, 201, created);
    }
    send(res, 404, { error: "no such route" });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => send(res, 500, { error: "fake failed" }));
  });
  await new Promise<void>((resolve) => server.listen(opts.port, opts.host ?? "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  base = `http://${opts.host ?? "127.0.0.1"}:${port}`;
  return {
    url: base,
    port,
    requests,
    tickets,
    setFault: (f) => {
      fault = f ? { ...f } : null;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  try {
    return await readRequestText(req, 64 * 1024);
  } catch (error) {
    if (error instanceof BodyTooLargeError) req.destroy(error);
    throw error;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { "content-type": "application/json; charset=utf-8" }).end(JSON.stringify(body));
}

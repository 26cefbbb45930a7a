/**
 * What the demo model answers: a pure function of the request, so tests and benchmarks see the
 * same reply for the same messages. It recognises a few phrasings of the built-in skills and
 * calls the matching tool only when the request offers it, like a real model would; asked
 * "what did I say?", it lists what the user said earlier as the request carries it (the
 * runtime's conversation memory).
 */

/**
 * OpenAI function names must match ^[a-zA-Z0-9_-]{1,64}$, so a dotted skill key cannot be a
 * tool name: "." becomes "_" (`kb.search` <-> `kb_search`). Skill keys may contain "_" after
 * their first segment, so the reverse is exact only against the list of known keys.
 */
export function toolName(skillKey: string): string {
  return skillKey.replaceAll(".", "_");
}

export function skillKeyOf(name: string, knownKeys?: Iterable<string>): string | undefined {
  if (knownKeys) {
    for (const key of knownKeys) if (key === name || toolName(key) === name) return key;
    return undefined;
  }
  return name.replaceAll("_", ".");
}

export interface ChatMessage {
  role: string;
  content?: unknown;
  tool_call_id?: string;
  tool_calls?: { id?: string; function?: { name?: string } }[];
}

export interface ChatRequest {
  model?: string;
  messages: ChatMessage[];
  tools?: { type?: string; function?: { name?: string } }[];
}

export interface ToolCall {
  name: string; // the name as the request offered it
  arguments: Record<string, unknown>;
}

export type DemoReply = { kind: "text"; content: string } | { kind: "tool"; call: ToolCall };

/** A recognised request: the skill it wants and its arguments. Order matters: first match wins. */
const RECOGNISERS: { key: string; match: (text: string) => Record<string, unknown> | null }[] = [
  // The demo MCP server's tools (demo-mcp.ts), offered once an admin enabled them.
  {
    key: "mcp.demo.lookup_order",
    match: (t) => {
      const m = /\border\s+(A-\d{4})\b/i.exec(t);
      return m ? { orderId: m[1]!.toUpperCase() } : null;
    },
  },
  {
    key: "mcp.demo.create_ticket",
    match: (t) => {
      const m = /\bopen (?:a )?support ticket\s*:\s*(.+)$/i.exec(t);
      return m ? { title: m[1]!.trim() } : null;
    },
  },
  {
    key: "ticket.create",
    match: (t) => {
      const m = /\bcreate (?:a )?ticket in ([A-Za-z][A-Za-z0-9]+)\s*:\s*(.+)$/i.exec(t);
      return m ? { project: m[1]!.toUpperCase(), title: m[2]!.trim() } : null;
    },
  },
  {
    key: "group.announce",
    match: (t) => {
      // "announce: text" (this conversation) or "announce in cid-ops: text" (another group)
      const m = /\bannounce(?:\s+(?:in|to)\s+(\S+?))?\s*:\s*(.+)$/i.exec(t);
      if (!m) return null;
      return { ...(m[1] ? { conversationId: m[1] } : {}), title: "Announcement", text: m[2]!.trim() };
    },
  },
  {
    key: "http.fetch",
    match: (t) => {
      const m = /\bfetch\s+(https?:\/\/\S+)/i.exec(t);
      return m ? { url: m[1]! } : null;
    },
  },
  {
    key: "kb.search",
    match: (t) => {
      const m = /\bsearch (?:the )?(?:kb|knowledge base) for\s+(.+)$/i.exec(t) ?? /^(?:@\S+\s+)?kb\s+(.+)$/i.exec(t);
      return m ? { query: m[1]!.trim().replace(/[?.!]+$/, "") } : null;
    },
  },
  {
    key: "ticket.lookup",
    match: (t) => {
      const m = /\b([A-Z][A-Z0-9]+-\d+)\b/.exec(t);
      return m ? { ticketId: m[1]! } : null;
    },
  },
  { key: "status", match: (t) => (/\bstatus\b/i.test(t) ? {} : null) },
  { key: "help", match: (t) => (/\bhelp\b/i.test(t) ? {} : null) },
];

export function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((part: unknown) => (part && typeof part === "object" && "text" in part ? String(part.text) : ""))
      .join("");
  }
  return "";
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export function recognise(text: string, offered: readonly string[]): ToolCall | null {
  for (const { key, match } of RECOGNISERS) {
    const name = offered.find((n) => n === key || n === toolName(key));
    if (!name) continue;
    const args = match(text.trim());
    if (args) return { name, arguments: args };
  }
  return null;
}

/** "what did I say / tell you / ask": the demo model shows the conversation memory it was sent. */
const RECALL = /\bwhat (?:did|have) I (?:just )?(?:say|said|tell|told|ask|asked)\b/i;

/**
 * What the user said before this message, as the request carries it: the earlier user messages
 * (the runtime's recent turns) and, before them, the "- User: ... | Assistant: ..." lines of a
 * system message (its summary of older turns).
 */
function earlierUserTexts(messages: readonly ChatMessage[]): string[] {
  const lastUser = messages.findLastIndex((m) => m.role === "user");
  const said: string[] = [];
  messages.slice(0, lastUser).forEach((m, i) => {
    if (m.role === "user") said.push(textOf(m.content));
    else if (m.role === "system" && i > 0) {
      for (const line of textOf(m.content).split("\n")) {
        const folded = /^- User: (.*?) \| Assistant:/.exec(line);
        if (folded?.[1]) said.push(folded[1]);
      }
    }
  });
  return said.map((t) => t.trim()).filter(Boolean);
}

function recall(messages: readonly ChatMessage[]): string {
  const said = earlierUserTexts(messages);
  if (said.length === 0) return "Demo model here. This is the first thing you have told me in this conversation.";
  const last = said.slice(-5).map((t) => `"${clip(t.replace(/\s+/g, " "), 120)}"`);
  const more = said.length > last.length ? ` (and ${said.length - last.length} earlier)` : "";
  return `Demo model here. Earlier in this conversation you said: ${last.join("; ")}${more}.`;
}

export function demoReply(req: ChatRequest): DemoReply {
  const last = req.messages.at(-1);
  if (last?.role === "tool") {
    const call = req.messages
      .flatMap((m) => m.tool_calls ?? [])
      .find((c) => c.id !== undefined && c.id === last.tool_call_id);
    const result = clip(textOf(last.content).replace(/\s+/g, " ").trim(), 300);
    // As a capable model does: the runtime itself tells the user the action waits for approval.
    if (result.includes("sent to an approver"))
      return { kind: "text", content: `I have asked for ${call?.function?.name ?? "that"} on your behalf.` };
    return { kind: "text", content: `Result of ${call?.function?.name ?? "the tool"}: ${result || "(empty)"}` };
  }
  const lastUser = [...req.messages].reverse().find((m) => m.role === "user");
  const text = textOf(lastUser?.content);
  const offered = (req.tools ?? []).flatMap((t) => (t.function?.name ? [t.function.name] : []));
  const call = recognise(text, offered);
  if (call) return { kind: "tool", call };
  if (RECALL.test(text)) return { kind: "text", content: recall(req.messages) };
  return { kind: "text", content: `Demo model here. You said: "${clip(text.trim(), 200)}"` };
}

/** ~4 characters per token, like the usual rule of thumb; never 0 for a non-empty text. */
export function countTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function promptTokens(req: ChatRequest): number {
  const messages = req.messages.reduce((n, m) => n + 4 + countTokens(textOf(m.content)), 0);
  return messages + (req.tools ? countTokens(JSON.stringify(req.tools)) : 0);
}

/**
 * An OpenAI-compatible model that calls whatever tool the user names ("CALL kb_search {...}"),
 * offered or not, like a real model that strays from its tool list; "LOOP help {}" calls it
 * again after every result for as long as tools are offered. Otherwise it answers as the demo
 * model. It shows what the runtime does when the model asks for a refused tool. "ECHO text"
 * answers «text» followed by a NUL and a lone surrogate, as local models sometimes do. A tool
 * result that says "CALL tool_name {...}" is obeyed, like a model taken over by a prompt injection.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { completion } from "@clawgate/devstack/demo-model";
import { demoReply, textOf, type ChatRequest } from "@clawgate/devstack/demo-model-reply";

export interface ScriptedModel {
  url: string;
  requests: ChatRequest[];
  /** The `traceparent` header of each request (same order as `requests`). */
  traceparents: (string | undefined)[];
  close(): Promise<void>;
}

async function json(req: IncomingMessage): Promise<ChatRequest> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as ChatRequest;
}

export async function startScriptedModel(): Promise<ScriptedModel> {
  const requests: ChatRequest[] = [];
  const traceparents: (string | undefined)[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    void json(req).then((body) => {
      requests.push(body);
      traceparents.push(String(req.headers.traceparent ?? "") || undefined);
      const last = body.messages.at(-1);
      // The newest user message: earlier ones are the conversation's memory.
      const user = textOf(body.messages.findLast((msg) => msg.role === "user")?.content);
      const loop = /^LOOP (\w+) (.*)$/s.exec(user);
      const m =
        loop && (body.tools?.length ?? 0) > 0
          ? loop
          : last?.role === "user"
            ? /^CALL (\w+) (.*)$/s.exec(textOf(last.content))
            : null;
      const echo = last?.role === "user" ? /^ECHO (.*)$/s.exec(textOf(last.content)) : null;
      const injected = last?.role === "tool" ? /CALL (\w+) (\{[^}]*\})/.exec(textOf(last.content)) : null;
      const reply = injected
        ? {
            kind: "tool" as const,
            call: { name: injected[1]!, arguments: JSON.parse(injected[2]!) as Record<string, unknown> },
          }
        : m
          ? { kind: "tool" as const, call: { name: m[1]!, arguments: JSON.parse(m[2]!) as Record<string, unknown> } }
          : echo
            ? { kind: "text" as const, content: `«${echo[1]!}»\u0000\ud800` }
            : demoReply(body);
      n += 1;
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify(completion(`chatcmpl-s-${n}`, body, reply, `call_s_${n}`)));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    traceparents,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The benchmarks' baseline: a bare openai SDK call with the body an agent turn sends for "hello". */
import OpenAI from "openai";
import type { ChatCompletionTool } from "openai/resources/chat/completions";
import { SYSTEM_PROMPT } from "../../apps/bot/src/agent/run-turn.ts";

export function bareTurnCall(baseURL: string, model: string, tools: ChatCompletionTool[]): () => Promise<unknown> {
  const client = new OpenAI({ baseURL, apiKey: "not-set", maxRetries: 0, timeout: 60_000 });
  return () =>
    client.chat.completions.create({
      model,
      messages: [
        { role: "system", content: SYSTEM_PROMPT },
        { role: "user", content: "hello" },
      ],
      tools,
    });
}

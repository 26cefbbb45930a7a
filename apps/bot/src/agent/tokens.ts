/**
 * Token counting with gpt-tokenizer (o200k_base, pure JS). Self-hosted models tokenize
 * differently (a few percent either way); the room kept for the answer (contextLimits) absorbs
 * that. Special-token text such as "<|endoftext|>" in a message is counted as plain text.
 */
import { decode, encode } from "gpt-tokenizer";

const PLAIN = { disallowedSpecial: new Set<string>() };

/** Per message: the role and separators of the chat format (OpenAI's own rule of thumb). */
export const MESSAGE_OVERHEAD = 4;

// Memory messages are counted again at every turn of their conversation (prompt and fold): a
// bounded cache of counts by text saves re-encoding them (oldest entries go first).
const COUNT_CACHE_MAX = 4_000;
const counted = new Map<string, number>();

export function countTokens(text: string): number {
  if (text === "") return 0;
  let n = counted.get(text);
  if (n === undefined) {
    n = encode(text, PLAIN).length;
    if (counted.size >= COUNT_CACHE_MAX) counted.delete(counted.keys().next().value!);
    counted.set(text, n);
  }
  return n;
}

/** Tokens of a message as sent: its text (content and tool-call arguments) plus the overhead. */
export function messageTokens(message: { content?: unknown; tool_calls?: unknown }): number {
  const content =
    typeof message.content === "string" ? message.content : message.content ? JSON.stringify(message.content) : "";
  return (
    MESSAGE_OVERHEAD + countTokens(content) + (message.tool_calls ? countTokens(JSON.stringify(message.tool_calls)) : 0)
  );
}

/** The first `max` tokens of `text` (whole text when it fits). */
export function clipTokens(
  text: string,
  max: number,
): { text: string; tokens: number; total: number; clipped: boolean } {
  const tokens = encode(text, PLAIN);
  if (tokens.length <= max) return { text, tokens: tokens.length, total: tokens.length, clipped: false };
  const n = Math.max(0, max);
  return { text: decode(tokens.slice(0, n)), tokens: n, total: tokens.length, clipped: true };
}

/**
 * How a route's max context is shared out. The prompt (system, tools, memory, message, tool
 * results) must fit in `prompt`; `reserve` is left for the answer. Memory keeps at most
 * `recent` tokens of verbatim turns and `summary` tokens of folded ones.
 */
export interface ContextLimits {
  max: number;
  reserve: number;
  prompt: number;
  recent: number;
  summary: number;
}

export function contextLimits(maxContextTokens: number): ContextLimits {
  const max = Math.max(256, Math.floor(maxContextTokens));
  const reserve = Math.min(1_024, Math.floor(max / 8));
  return { max, reserve, prompt: max - reserve, recent: Math.floor(max / 4), summary: Math.floor(max / 16) };
}

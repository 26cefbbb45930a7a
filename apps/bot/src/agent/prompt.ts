/**
 * The prompt of a turn, fitted to the route's max context. Fixed parts first (system prompt,
 * tool definitions), then the new message (clipped to half of what is left, with a note saying
 * so), then memory newest first (recent turns, then summary lines) leaving a quarter of the room
 * for this turn's tool calls; tool results are fitted into what remains as they arrive
 * (`fitToolResult`).
 */
import type OpenAI from "openai";
import type { Memory, MemoryTurn } from "./memory.ts";
import { clipTokens, countTokens, messageTokens, MESSAGE_OVERHEAD, type ContextLimits } from "./tokens.ts";

/** The reply's own framing (the assistant's role tokens) in OpenAI's counting. */
const REPLY_PRIMING = 3;

export interface Prompt {
  messages: OpenAI.ChatCompletionMessageParam[];
  /** Tokens of `messages` plus the tool definitions. */
  tokens: number;
  /** The user's text as sent (clipped if it had to be, without the note): what memory keeps. */
  userText: string;
  clipped: boolean;
}

export const clippedNote = (kept: number, total: number) =>
  `[Clawgate: this message was too long for the model's context and was cut after ${kept} of its ${total} tokens; tell the user if the answer may miss something.]`;

export const SUMMARY_HEADER = "Earlier in this conversation (oldest first, one line per turn):";

export function buildPrompt(input: {
  system: string;
  toolTokens: number;
  memory: Memory;
  userText: string;
  limits: ContextLimits;
}): Prompt {
  const { limits, memory } = input;
  const system: OpenAI.ChatCompletionMessageParam = { role: "system", content: input.system };
  const fixed = messageTokens(system) + input.toolTokens + REPLY_PRIMING;
  const room = Math.max(0, limits.prompt - fixed);

  // The new message: at most half of the room (the rest is memory and tool results).
  const cap = Math.max(16, Math.floor(room / 2));
  let userText = input.userText;
  let userContent = userText;
  // countTokens first: it is cached, and most messages fit.
  const fit =
    countTokens(userText) <= cap - MESSAGE_OVERHEAD
      ? { clipped: false, total: 0 }
      : clipTokens(userText, cap - MESSAGE_OVERHEAD);
  if (fit.clipped) {
    // Text and note are tokenized together, which can differ by a token or two: shrink until it fits.
    for (let keep = cap - MESSAGE_OVERHEAD - countTokens(clippedNote(fit.total, fit.total)) - 2; ;) {
      const kept = clipTokens(input.userText, Math.max(8, keep));
      userText = kept.text;
      userContent = `${kept.text}\n\n${clippedNote(kept.tokens, kept.total)}`;
      const over = messageTokens({ content: userContent }) - cap;
      if (over <= 0 || keep <= 8) break;
      keep -= over;
    }
  }
  const user: OpenAI.ChatCompletionMessageParam = { role: "user", content: userContent };
  const userTokens = messageTokens(user);

  // Memory, newest first, in what is left after a quarter of the room is set aside for tools.
  let memoryRoom = room - userTokens - Math.floor(room / 4);
  const recent: MemoryTurn[] = [];
  for (let i = memory.recent.length - 1; i >= 0; i--) {
    const t = messageTokens(memory.recent[i]!);
    if (t > memoryRoom) break;
    memoryRoom -= t;
    recent.unshift(memory.recent[i]!);
  }
  // History starts with a user message: an answer whose question did not fit goes too.
  while (recent[0]?.role === "assistant") memoryRoom += messageTokens(recent.shift()!);
  const lines: string[] = [];
  const summaryLines = memory.summary ? memory.summary.split("\n") : [];
  let summaryRoom = memoryRoom - MESSAGE_OVERHEAD - countTokens(SUMMARY_HEADER) - 1;
  for (let i = summaryLines.length - 1; i >= 0 && summaryRoom > 0; i--) {
    const t = countTokens(summaryLines[i]!) + 1;
    if (t > summaryRoom) break;
    summaryRoom -= t;
    lines.unshift(summaryLines[i]!);
  }

  const messages: OpenAI.ChatCompletionMessageParam[] = [
    system,
    ...(lines.length > 0 ? [{ role: "system" as const, content: `${SUMMARY_HEADER}\n${lines.join("\n")}` }] : []),
    ...recent.map((m) => ({ role: m.role, content: m.content })),
    user,
  ];
  return {
    messages,
    tokens: input.toolTokens + REPLY_PRIMING + messages.reduce((n, m) => n + messageTokens(m), 0),
    userText,
    clipped: fit.clipped,
  };
}

/** A tool result cut to the `room` tokens left in the prompt (always a non-empty text). */
export function fitToolResult(content: string, room: number): string {
  const budget = room - MESSAGE_OVERHEAD;
  const omitted = "[result omitted: the conversation has no room left in the model's context]";
  if (budget < 24) return omitted;
  // countTokens first: it is cached (skill-cache hits return the same text), and most results fit.
  if (countTokens(content) <= budget) return content;
  const fit = clipTokens(content, budget);
  if (!fit.clipped) return content;
  const cut = clipTokens(content, budget - 20);
  return `${cut.text}\n[result cut to fit the model's context: ${cut.tokens} of ${fit.total} tokens]`;
}

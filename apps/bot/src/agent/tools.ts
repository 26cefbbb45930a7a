/**
 * The tools a turn offers the model: the built-in skills `decide` allows (or would send to an
 * approver) in this conversation for this user, as OpenAI function definitions. Tool names
 * cannot hold ".", so `kb.search` is offered as `kb_search`.
 */
import { decide, offeredToModel, type PolicyContext, type PolicySnapshot } from "@clawgate/core";
import { BUILTIN_HANDLERS, BUILTIN_SKILLS, type SkillHandler, type SkillManifest } from "@clawgate/skills";
import type OpenAI from "openai";
import { z } from "zod";
import { countTokens } from "./tokens.ts";

export const toolName = (skillKey: string) => skillKey.replaceAll(".", "_");

export interface Skill {
  manifest: SkillManifest;
  handler: SkillHandler<never>;
}

export const SKILLS: ReadonlyMap<string, Skill> = new Map(
  BUILTIN_SKILLS.flatMap((manifest) => {
    const handler = BUILTIN_HANDLERS[manifest.key];
    return handler ? [[manifest.key, { manifest, handler }] as const] : [];
  }),
);

const BY_TOOL_NAME = new Map([...SKILLS.keys()].map((key) => [toolName(key), key]));

/** The skill key a tool name stands for; an unknown name maps to itself (and is denied as unknown). */
export const skillKeyOf = (name: string) => BY_TOOL_NAME.get(name) ?? name;

// The input side of the schema: fields with defaults are optional to the model.
const definitions = new Map(
  [...SKILLS.values()].map(({ manifest }) => [
    manifest.key,
    {
      type: "function" as const,
      function: {
        name: toolName(manifest.key),
        description: manifest.description,
        parameters: z.toJSONSchema(manifest.input, { io: "input" }) as Record<string, unknown>,
      },
    },
  ]),
);

/**
 * Offered: per turn, for this conversation and this user, what `offeredToModel` accepts of
 * `decide`'s answer (allowed, sent for approval, or refused by read-only safe mode alone). The
 * console's "why?" check answers with the same two functions.
 */
export function offeredTools(
  snapshot: PolicySnapshot,
  context: PolicyContext,
): { keys: string[]; tools: OpenAI.ChatCompletionTool[] } {
  const keys = [...SKILLS.keys()].filter((skillKey) =>
    offeredToModel(decide(snapshot, context, { kind: "skill", skillKey })),
  );
  return { keys, tools: keys.map((k) => definitions.get(k)!) };
}

const toolTokenCache = new Map<string, number>();
/** Tokens the offered tools' definitions take in the prompt (memoised: the sets repeat). */
export function toolTokens(keys: readonly string[]): number {
  const id = keys.join(",");
  let n = toolTokenCache.get(id);
  if (n === undefined) {
    n = keys.length === 0 ? 0 : countTokens(JSON.stringify(keys.map((k) => definitions.get(k))));
    toolTokenCache.set(id, n);
  }
  return n;
}

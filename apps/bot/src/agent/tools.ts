/**
 * The tools a turn offers the model: the skills `decide` allows (or would send to an approver)
 * in this conversation for this user, as OpenAI function definitions. Tool names cannot hold
 * ".", so `kb.search` is offered as `kb_search`.
 *
 * A Toolbox is every skill this runtime can run: the built-in ones, plus the outside tools (MCP,
 * HTTP) of the current config revision, which the catalog builds from their approved definitions.
 * There is one way to call any of them (tool-call.ts).
 */
import { decide, offeredToModel, type PolicyContext, type PolicySnapshot } from "@clawgate/core";
import {
  BUILTIN_HANDLERS,
  BUILTIN_SKILLS,
  type OutputPolicy,
  type SkillHandler,
  type SkillManifest,
} from "@clawgate/skills";
import type OpenAI from "openai";
import { z } from "zod";
import { countTokens } from "./tokens.ts";

export const toolName = (skillKey: string) => skillKey.replaceAll(".", "_");

export interface Skill {
  manifest: SkillManifest;
  handler: SkillHandler<never>;
  /** How its output is given to the model (cap, PII mask, untrusted framing). */
  output?: OutputPolicy;
  /** A cap on calls in flight across replicas (an MCP server's `max_concurrency`), as model slots. */
  slots?: { endpointName: string; maxConcurrency: number; timeoutMs: number };
  /** Runs with another skill's settings (HTTP tools: http.fetch's outbound allowlist). */
  settingsFrom?: string;
}

export class Toolbox {
  readonly skills: ReadonlyMap<string, Skill>;
  readonly #byToolName: Map<string, string>;
  readonly #definitions: Map<string, OpenAI.ChatCompletionTool>;
  readonly #tokens = new Map<string, number>();

  /** `otherKeys`: skills known by name but not runnable here (an outside tool not approved): named in refusals. */
  constructor(skills: Iterable<Skill>, otherKeys: Iterable<string> = []) {
    const map = new Map<string, Skill>();
    for (const s of skills) if (!map.has(s.manifest.key)) map.set(s.manifest.key, s);
    this.skills = map;
    this.#byToolName = new Map();
    for (const key of [...map.keys(), ...otherKeys])
      if (!this.#byToolName.has(toolName(key))) this.#byToolName.set(toolName(key), key);
    this.#definitions = new Map(
      [...map.values()].map(({ manifest }) => [
        manifest.key,
        {
          type: "function" as const,
          function: {
            name: toolName(manifest.key),
            description: manifest.description,
            // The input side of the schema: fields with defaults are optional to the model.
            parameters:
              manifest.inputJsonSchema ?? (z.toJSONSchema(manifest.input, { io: "input" }) as Record<string, unknown>),
          },
        },
      ]),
    );
  }

  get(key: string): Skill | undefined {
    return this.skills.get(key);
  }

  /** The skill key a tool name stands for; an unknown name maps to itself (and is denied as unknown). */
  skillKeyOf(name: string): string {
    return this.#byToolName.get(name) ?? name;
  }

  definition(key: string): OpenAI.ChatCompletionTool | undefined {
    return this.#definitions.get(key);
  }

  /** Tokens the offered tools' definitions take in the prompt (memoised: the sets repeat). */
  toolTokens(keys: readonly string[]): number {
    const id = keys.join(",");
    let n = this.#tokens.get(id);
    if (n === undefined) {
      n = keys.length === 0 ? 0 : countTokens(JSON.stringify(keys.map((k) => this.#definitions.get(k))));
      this.#tokens.set(id, n);
    }
    return n;
  }
}

export const BUILTIN_TOOLBOX = new Toolbox(
  BUILTIN_SKILLS.flatMap((manifest) => {
    const handler = BUILTIN_HANDLERS[manifest.key];
    return handler ? [{ manifest, handler, output: { untrusted: manifest.untrustedOutput ?? false } }] : [];
  }),
);

/** The built-in skills (what every runtime ships). */
export const SKILLS: ReadonlyMap<string, Skill> = BUILTIN_TOOLBOX.skills;

export const skillKeyOf = (name: string, box: Toolbox = BUILTIN_TOOLBOX) => box.skillKeyOf(name);

/**
 * Offered: per turn, for this conversation and this user, what `offeredToModel` accepts of
 * `decide`'s answer (allowed, sent for approval, or refused by read-only safe mode alone). The
 * console's "why?" check answers with the same two functions.
 */
export function offeredTools(
  snapshot: PolicySnapshot,
  context: PolicyContext,
  box: Toolbox = BUILTIN_TOOLBOX,
): { keys: string[]; tools: OpenAI.ChatCompletionTool[] } {
  const keys = [...box.skills.keys()].filter((skillKey) =>
    offeredToModel(decide(snapshot, context, { kind: "skill", skillKey })),
  );
  return { keys, tools: keys.map((k) => box.definition(k)!) };
}

export const toolTokens = (keys: readonly string[], box: Toolbox = BUILTIN_TOOLBOX) => box.toolTokens(keys);

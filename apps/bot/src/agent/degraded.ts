/**
 * Automatic degradation. A skill behind an internal API or an MCP server whose circuit breaker is
 * refusing calls is withdrawn from the model (not offered) until the breaker lets a trial call
 * through; the user gets one line saying what is unavailable. Each breaker that opens is recorded
 * against an incident (kind "breaker", refId = the breaker's name) and ended when it closes; core
 * records a trigger still in force once, so every replica seeing the same outage writes one row.
 */
import { endIncidentTrigger, openOrJoinIncident } from "@clawgate/core/incidents.ts";
import type { Db } from "@clawgate/db";
import { internalApiBreakerName, internalApiBreakers, internalApiSettings, mcpBreakers } from "@clawgate/skills";
import type { Logger } from "../logger.ts";
import { RUNTIME_ACTOR } from "../runtime-actor.ts";
import type { Skill, Toolbox } from "./tools.ts";

/** The breaker a skill runs behind: its MCP server's, or its internal API's (by base URL). */
export function breakerOf(skill: Skill | undefined, settings: Record<string, unknown>): string | undefined {
  if (!skill) return undefined;
  if (skill.slots?.endpointName.startsWith(`${mcpBreakers.prefix}:`)) return skill.slots.endpointName;
  if (skill.manifest.settings === internalApiSettings) return internalApiBreakerName(settings);
  return undefined;
}

export const breakerRefusing = (name: string) =>
  internalApiBreakers.refusingName(name) || mcpBreakers.refusingName(name);

/** The offered skills minus those behind a refusing breaker; `withdrawn`: breaker -> its skills. */
export function withdrawDegraded(
  keys: readonly string[],
  box: Toolbox,
  settingsOf: (skillKey: string) => Record<string, unknown>,
): { keys: string[]; withdrawn: Map<string, string[]> } {
  const withdrawn = new Map<string, string[]>();
  const kept: string[] = [];
  for (const key of keys) {
    const skill = box.skills.get(key);
    const breaker = breakerOf(skill, settingsOf(skill?.settingsFrom ?? key));
    if (breaker && breakerRefusing(breaker)) withdrawn.set(breaker, [...(withdrawn.get(breaker) ?? []), key]);
    else kept.push(key);
  }
  return { keys: kept, withdrawn };
}

/** The one line a user gets while skills are withdrawn (no URLs: the source by kind only). */
export function degradedNotice(withdrawn: ReadonlyMap<string, string[]>): string | undefined {
  if (withdrawn.size === 0) return undefined;
  const skills = [...withdrawn.values()].flat();
  const sources = [...withdrawn.keys()].map((b) =>
    b.startsWith("mcp:") ? `the ${b.slice(4)} tool server` : "an internal API",
  );
  return `Temporarily unavailable: ${skills.join(", ")} (${[...new Set(sources)].join(", ")} is not answering); I will use them again once it recovers.`;
}

let unsubscribe: (() => void) | undefined;

/**
 * Records breaker opens and closes against incidents (the last agent created in the process does).
 * Writes run in the background: a breaker never waits for the database.
 */
export function recordBreakerIncidents(db: Db, log: Pick<Logger, "warn" | "info">): () => void {
  unsubscribe?.();
  const onChange = (name: string, open: boolean) => {
    const write = open
      ? db.$transaction((tx) =>
          openOrJoinIncident(tx, {
            kind: "breaker",
            refId: name,
            summary: `Circuit breaker ${name} open: the skills behind it are withdrawn`,
            actor: RUNTIME_ACTOR,
          }),
        )
      : db.$transaction((tx) => endIncidentTrigger(tx, { kind: "breaker", refId: name }));
    write.then(
      () =>
        log.info({ breaker: name, open }, open ? "breaker opened: incident recorded" : "breaker closed: trigger ended"),
      (error: unknown) =>
        log.warn({ breaker: name, open, err: error }, "could not record the breaker against an incident"),
    );
  };
  const offs = [internalApiBreakers.onChange(onChange), mcpBreakers.onChange(onChange)];
  const off = () => offs.forEach((o) => o());
  unsubscribe = off;
  return off;
}

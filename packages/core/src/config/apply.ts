/**
 * Applies an onboarding config as the desired state of what it names: models, the default
 * route, per-model concurrency, conversations and skills (a skill's `rules`, when given, are
 * its whole rule set). What the file leaves out is left as it is. Every step computes its
 * change first and writes only when not a dry run, so the plan and the applied change agree.
 */
import type { Tx } from "@clawgate/db";
import { BUILTIN_SKILLS } from "@clawgate/skills";
import { diffFields, type FieldDiff } from "../diff.ts";
import { OnboardError, type OnboardConfig } from "./schema.ts";

export interface PlannedChange {
  target: "model" | "route" | "conversation" | "skill" | "skill_rule";
  id: string;
  action: "create" | "update" | "delete";
  diff?: FieldDiff;
}

type Step = (tx: Tx, config: OnboardConfig, write: boolean, out: PlannedChange[]) => Promise<void>;

const pick = <T extends object, K extends keyof T>(obj: T, keys: readonly K[]) =>
  Object.fromEntries(keys.map((k) => [k, obj[k]])) as Pick<T, K>;

/** Models named by `models` or `limits`, plus those already stored: references must resolve here. */
async function checkReferences(tx: Tx, config: OnboardConfig): Promise<void> {
  const stored = new Set((await tx.modelEndpoint.findMany({ select: { name: true } })).map((m) => m.name));
  const known = (name: string) => name in config.models || stored.has(name);
  const problems: string[] = [];
  const route = config.routing?.defaults?.model;
  if (route !== undefined && !known(route))
    problems.push(`routing.defaults.model: no model named "${route}" (define it under models)`);
  for (const name of Object.keys(config.limits?.max_concurrency_per_model ?? {})) {
    if (!known(name))
      problems.push(`limits.max_concurrency_per_model.${name}: no model named "${name}" (define it under models)`);
  }
  if (problems.length > 0) throw new OnboardError(problems);
}

const models: Step = async (tx, config, write, out) => {
  const limits = config.limits?.max_concurrency_per_model ?? {};
  const names = new Set([...Object.keys(config.models), ...Object.keys(limits)]);
  for (const name of names) {
    const spec = config.models[name];
    const desired = {
      ...(spec && { kind: "OPENAI_COMPATIBLE" as const, baseUrl: spec.base_url, model: spec.model }),
      ...(spec?.api_key !== undefined && { apiKeyEnv: spec.api_key }),
      ...(spec?.timeout_ms !== undefined && { timeoutMs: spec.timeout_ms }),
      ...(limits[name] !== undefined && { maxConcurrency: limits[name] }),
    };
    const before = await tx.modelEndpoint.findUnique({ where: { name } });
    if (!before) {
      // checkReferences guarantees a model that is only limited already exists.
      if (!spec) continue;
      out.push({ target: "model", id: name, action: "create", diff: diffFields(null, desired) });
      if (write)
        await tx.modelEndpoint.create({ data: { name, baseUrl: spec.base_url, model: spec.model, ...desired } });
      continue;
    }
    const diff = diffFields(pick(before, Object.keys(desired) as (keyof typeof desired)[]), desired);
    if (Object.keys(diff).length === 0) continue;
    out.push({ target: "model", id: name, action: "update", diff });
    if (write) await tx.modelEndpoint.update({ where: { name }, data: desired });
  }
};

const route: Step = async (tx, config, write, out) => {
  const name = config.routing?.defaults?.model;
  if (name === undefined) return;
  const current = await tx.route.findFirst({
    where: { isDefault: true },
    include: { modelEndpoint: { select: { name: true } } },
  });
  if (current?.modelEndpoint.name === name) return;
  out.push({
    target: "route",
    id: "default",
    action: current ? "update" : "create",
    diff: { model: { from: current?.modelEndpoint.name ?? null, to: name } },
  });
  if (!write) return;
  const { id: modelEndpointId } = await tx.modelEndpoint.findUniqueOrThrow({ where: { name }, select: { id: true } });
  if (current) await tx.route.update({ where: { id: current.id }, data: { modelEndpointId } });
  else await tx.route.create({ data: { isDefault: true, modelEndpointId } });
};

const conversations: Step = async (tx, config, write, out) => {
  for (const c of config.conversations) {
    const desired = {
      ...(c.title !== undefined && { title: c.title }),
      environment: c.environment === "test" ? ("TEST" as const) : ("PROD" as const),
      status: c.enabled ? ("ENABLED" as const) : ("DISABLED" as const),
    };
    const before = await tx.conversation.findUnique({ where: { conversationId: c.id } });
    if (!before) {
      const data = {
        conversationId: c.id,
        type: c.type === "group" ? ("GROUP" as const) : ("SINGLE" as const),
        ...desired,
      };
      out.push({ target: "conversation", id: c.id, action: "create", diff: diffFields(null, desired) });
      if (write) await tx.conversation.create({ data });
      continue;
    }
    const diff = diffFields(pick(before, Object.keys(desired) as (keyof typeof desired)[]), desired);
    if (Object.keys(diff).length === 0) continue;
    out.push({ target: "conversation", id: c.id, action: "update", diff });
    if (write) await tx.conversation.update({ where: { conversationId: c.id }, data: desired });
  }
};

const SCOPES = { global: "GLOBAL", conversation: "CONVERSATION", user: "USER" } as const;
const EFFECTS = { allow: "ALLOW", deny: "DENY" } as const;

const skills: Step = async (tx, config, write, out) => {
  for (const s of config.skills) {
    const manifest = BUILTIN_SKILLS.find((m) => m.key === s.key)!;
    const before = await tx.skill.findUnique({ where: { key: s.key }, include: { rules: true } });
    const enabled = s.enabled ?? before?.enabled ?? manifest.enabledByDefault;
    if (!before) {
      out.push({ target: "skill", id: s.key, action: "create", diff: { enabled: { from: null, to: enabled } } });
      if (write) {
        const { key, description, riskClass, requiresApproval, timeoutMs, cacheTtlSeconds } = manifest;
        await tx.skill.create({
          data: { key, description, riskClass, requiresApproval, timeoutMs, cacheTtlSeconds, enabled },
        });
      }
    } else if (before.enabled !== enabled) {
      out.push({
        target: "skill",
        id: s.key,
        action: "update",
        diff: { enabled: { from: before.enabled, to: enabled } },
      });
      if (write) await tx.skill.update({ where: { key: s.key }, data: { enabled } });
    }
    if (s.rules === undefined) continue;
    const existing = new Map((before?.rules ?? []).map((r) => [`${r.scope}:${r.subject}`, r]));
    for (const r of s.rules) {
      const scope = SCOPES[r.scope];
      const subject = r.subject ?? "";
      const effect = EFFECTS[r.effect];
      const id = `${s.key} ${scope}${subject ? ` ${subject}` : ""}`;
      const found = existing.get(`${scope}:${subject}`);
      existing.delete(`${scope}:${subject}`);
      if (found?.effect === effect) continue;
      out.push({
        target: "skill_rule",
        id,
        action: found ? "update" : "create",
        diff: { effect: { from: found?.effect ?? null, to: effect } },
      });
      if (!write) continue;
      if (found) await tx.skillRule.update({ where: { id: found.id }, data: { effect } });
      else await tx.skillRule.create({ data: { skillKey: s.key, scope, subject, effect } });
    }
    for (const stale of existing.values()) {
      out.push({
        target: "skill_rule",
        id: `${s.key} ${stale.scope}${stale.subject ? ` ${stale.subject}` : ""}`,
        action: "delete",
        diff: { effect: { from: stale.effect, to: null } },
      });
      if (write) await tx.skillRule.delete({ where: { id: stale.id } });
    }
  }
};

// Models first: the default route may point at a model created in the same apply.
const STEPS: Step[] = [models, route, conversations, skills];

export async function planAndApply(tx: Tx, config: OnboardConfig, write: boolean): Promise<PlannedChange[]> {
  await checkReferences(tx, config);
  const changes: PlannedChange[] = [];
  for (const step of STEPS) await step(tx, config, write, changes);
  return changes;
}

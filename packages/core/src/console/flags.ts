/**
 * Feature flags page. Flags are part of the policy snapshot (`agent.tools` gates every skill; a
 * skill may name a flag it needs in `settings.requiresFlag`), so toggling or creating one is a
 * config change: the console wraps these in `configMutation`.
 */
import type { Db, Tx } from "@clawgate/db";
import { z } from "zod";
import { TOOLS_FLAG } from "../policy/decide.ts";
import { DomainError, parseInput } from "../errors.ts";

/** Dotted lowercase segments, e.g. "agent.tools", "replies.markdown", "approvals.dingtalk_cards". */
export const FLAG_KEY_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;

export const flagKeySchema = z
  .string({ error: "key is required" })
  .trim()
  .min(1, { error: "key is required" })
  .max(64, { error: "the key is too long (64 characters at most)" })
  .regex(FLAG_KEY_PATTERN, {
    error:
      "the key is lowercase words joined by dots, e.g. replies.markdown (letters, digits, _; each part starts with a letter)",
  });

export interface FlagRow {
  key: string;
  description: string;
  enabled: boolean;
  updatedAt: Date;
  /** Skills that need this flag on (`settings.requiresFlag`); every skill for `agent.tools`. */
  gates: string[];
}

export async function listFlags(db: Db | Tx): Promise<FlagRow[]> {
  const [flags, skills] = await Promise.all([
    db.featureFlag.findMany({
      orderBy: { key: "asc" },
      select: { key: true, description: true, enabled: true, updatedAt: true },
    }),
    db.skill.findMany({ select: { key: true, settings: true }, orderBy: { key: "asc" } }),
  ]);
  const required = (settings: unknown) =>
    settings && typeof settings === "object" && "requiresFlag" in settings && typeof settings.requiresFlag === "string"
      ? settings.requiresFlag
      : null;
  return flags.map((f) => ({
    ...f,
    gates:
      f.key === TOOLS_FLAG
        ? skills.map((s) => s.key)
        : skills.filter((s) => required(s.settings) === f.key).map((s) => s.key),
  }));
}

export const flagToggleSchema = z.strictObject({
  key: flagKeySchema,
  enabled: z.boolean({ error: "enabled must be true or false" }),
});

export interface FlagChange {
  key: string;
  enabled: boolean;
  description: string;
  diff: Record<string, unknown>;
  summary: string;
}

export async function setFlag(tx: Tx, input: z.input<typeof flagToggleSchema>): Promise<FlagChange> {
  const { key, enabled } = parseInput(flagToggleSchema, input);
  const locked = await tx.$queryRaw<
    { enabled: boolean; description: string }[]
  >`SELECT enabled, description FROM "FeatureFlag" WHERE key = ${key} FOR UPDATE`;
  const before = locked[0];
  if (!before) throw new DomainError("NOT_FOUND", `There is no flag "${key}".`);
  if (before.enabled === enabled)
    return {
      key,
      enabled,
      description: before.description,
      diff: {},
      summary: `Flag "${key}" is already ${enabled ? "on" : "off"}`,
    };
  const after = await tx.featureFlag.update({ where: { key }, data: { enabled } });
  return {
    key,
    enabled,
    description: after.description,
    diff: { enabled: { from: before.enabled, to: enabled } },
    summary: `Flag "${key}" ${enabled ? "on" : "off"}`,
  };
}

export const flagCreateSchema = z.strictObject({
  key: flagKeySchema,
  description: z
    .string()
    .trim()
    .min(1, { error: "say what the flag does" })
    .max(300, { error: "the description is too long (300 characters at most)" }),
  enabled: z.boolean().default(false),
});

export async function createFlag(tx: Tx, input: z.input<typeof flagCreateSchema>): Promise<FlagChange> {
  const f = parseInput(flagCreateSchema, input);
  // skipDuplicates: an existing key (or a concurrent create) is a clear conflict, not a 500.
  const { count } = await tx.featureFlag.createMany({ data: [f], skipDuplicates: true });
  if (count === 0) throw new DomainError("CONFLICT", `A flag "${f.key}" exists already.`);
  return {
    key: f.key,
    enabled: f.enabled,
    description: f.description,
    diff: {
      key: { from: null, to: f.key },
      enabled: { from: null, to: f.enabled },
      description: { from: null, to: f.description },
    },
    summary: `Flag "${f.key}" created (${f.enabled ? "on" : "off"})`,
  };
}

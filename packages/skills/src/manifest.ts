import { z } from "zod";

export const RISK_CLASSES = ["READ", "WRITE", "DESTRUCTIVE"] as const;
export type RiskClass = (typeof RISK_CLASSES)[number];

/** What a skill declares about itself; the console and the policy read this, the model sees `input`. */
export interface SkillManifest<Input extends z.ZodType = z.ZodType, Settings extends z.ZodObject = z.ZodObject> {
  key: string;
  description: string;
  riskClass: RiskClass;
  /** Write actions that must be granted by an approver before they run. */
  requiresApproval: boolean;
  /**
   * Enabled on a fresh install (bootstrap creates the row; an admin's later choice is kept). The
   * rule: READ enabled, WRITE enabled with `requiresApproval`, DESTRUCTIVE disabled; a READ skill
   * that cannot do anything until configured may start disabled (say why next to it).
   */
  enabledByDefault: boolean;
  timeoutMs: number;
  /** Deterministic reads may be cached; 0 disables caching. */
  cacheTtlSeconds: number;
  input: Input;
  /**
   * The admin-editable settings (`Skill.settings`: base URLs, host allowlists), checked when a
   * setting is saved (console, onboard) and again by the handler when it runs. Every skill may
   * also carry `requiresFlag` (a feature flag that gates it), which the policy reads.
   */
  settings: Settings;
  /**
   * Fills in what the request's context implies (e.g. "this conversation"), so an approval
   * request stores, and an approver reads, exactly what will run.
   */
  resolveInput?(input: z.output<Input>, context: { conversationId: string }): z.output<Input>;
  /**
   * The input as JSON Schema when the skill was defined by one (MCP and HTTP tools): offered to
   * the model as given, while `input` (converted from it) validates the arguments.
   */
  inputJsonSchema?: Record<string, unknown>;
  /**
   * Its output is outside content (a web page, an MCP result) that may carry instructions: once a
   * turn has read it, every later WRITE/DESTRUCTIVE call of the turn waits for an approver. The
   * default for a fresh row; an admin may mark the skill trusted (Skill.untrustedOutput).
   */
  untrustedOutput?: boolean;
}

export function defineSkill<Input extends z.ZodType, Settings extends z.ZodObject>(
  manifest: SkillManifest<Input, Settings>,
): SkillManifest<Input, Settings> {
  if (!/^[a-z][a-z0-9]*(\.[a-z][a-z0-9_]*)*$/.test(manifest.key)) {
    throw new Error(`invalid skill key "${manifest.key}": use lowercase dotted names like "kb.search"`);
  }
  if (manifest.riskClass !== "READ" && manifest.cacheTtlSeconds > 0) {
    throw new Error(`skill "${manifest.key}": only READ skills may be cached`);
  }
  return manifest;
}

/** Settings every skill accepts besides its own: the feature flag that gates it. */
export const commonSkillSettings = z.object({
  requiresFlag: z.string().min(1).optional().describe("a feature flag that must be on for the skill to run"),
});

/** A skill with no settings of its own. */
export const noSettings = z.object({});

/** A skill's whole settings schema: its own plus `requiresFlag`, unknown keys refused. */
const settingsSchemaOf = (manifest: SkillManifest) => manifest.settings.extend(commonSkillSettings.shape).strict();

export interface SettingField {
  name: string;
  /** JSON type, `string[]` style for arrays. */
  type: string;
  description?: string;
  default?: unknown;
  required: boolean;
}

/** The settings a skill accepts, described for an editor (the console's skill page). */
export function settingsFields(manifest: SkillManifest): SettingField[] {
  const schema = z.toJSONSchema(settingsSchemaOf(manifest), { io: "input", unrepresentable: "any" }) as {
    properties?: Record<string, { type?: string; items?: { type?: string }; description?: string; default?: unknown }>;
    required?: string[];
  };
  return Object.entries(schema.properties ?? {}).map(([name, p]) => ({
    name,
    type: p.type === "array" ? `${p.items?.type ?? "any"}[]` : (p.type ?? "any"),
    ...(p.description ? { description: p.description } : {}),
    ...("default" in p ? { default: p.default } : {}),
    required: schema.required?.includes(name) ?? false,
  }));
}

export type SettingsCheck = { ok: true; settings: Record<string, unknown> } | { ok: false; errors: string[] };

/**
 * Validates a skill's settings against its manifest (plus `requiresFlag`); unknown keys are
 * refused so a typo does not silently do nothing. Each problem is one line naming its path.
 */
export function checkSkillSettings(manifest: SkillManifest, settings: unknown): SettingsCheck {
  const schema = settingsSchemaOf(manifest);
  const parsed = schema.safeParse(settings ?? {});
  if (parsed.success) return { ok: true, settings: parsed.data as Record<string, unknown> };
  return {
    ok: false,
    errors: parsed.error.issues.map(
      (i) => `${manifest.key} settings${i.path.length ? `.${i.path.join(".")}` : ""}: ${i.message}`,
    ),
  };
}

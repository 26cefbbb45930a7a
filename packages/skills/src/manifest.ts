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
export const commonSkillSettings = z.object({ requiresFlag: z.string().min(1).optional() });

/** A skill with no settings of its own. */
export const noSettings = z.object({});

export type SettingsCheck = { ok: true; settings: Record<string, unknown> } | { ok: false; errors: string[] };

/**
 * Validates a skill's settings against its manifest (plus `requiresFlag`); unknown keys are
 * refused so a typo does not silently do nothing. Each problem is one line naming its path.
 */
export function checkSkillSettings(manifest: SkillManifest, settings: unknown): SettingsCheck {
  const schema = manifest.settings.extend(commonSkillSettings.shape).strict();
  const parsed = schema.safeParse(settings ?? {});
  if (parsed.success) return { ok: true, settings: parsed.data as Record<string, unknown> };
  return {
    ok: false,
    errors: parsed.error.issues.map(
      (i) => `${manifest.key} settings${i.path.length ? `.${i.path.join(".")}` : ""}: ${i.message}`,
    ),
  };
}

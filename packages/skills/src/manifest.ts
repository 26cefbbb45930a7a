import { type z } from "zod";

export const RISK_CLASSES = ["READ", "WRITE", "DESTRUCTIVE"] as const;
export type RiskClass = (typeof RISK_CLASSES)[number];

/** What a skill declares about itself; the console and the policy read this, the model sees `input`. */
export interface SkillManifest<Input extends z.ZodType = z.ZodType> {
  key: string;
  description: string;
  riskClass: RiskClass;
  /** Write actions that must be granted by an approver before they run. */
  requiresApproval: boolean;
  /** Enabled on a fresh install. Writes start disabled: an admin turns them on. */
  enabledByDefault: boolean;
  timeoutMs: number;
  /** Deterministic reads may be cached; 0 disables caching. */
  cacheTtlSeconds: number;
  input: Input;
  /**
   * Fills in what the request's context implies (e.g. "this conversation"), so an approval
   * request stores, and an approver reads, exactly what will run.
   */
  resolveInput?(input: z.output<Input>, context: { conversationId: string }): z.output<Input>;
}

export function defineSkill<Input extends z.ZodType>(manifest: SkillManifest<Input>): SkillManifest<Input> {
  if (!/^[a-z][a-z0-9]*(\.[a-z][a-z0-9_]*)*$/.test(manifest.key)) {
    throw new Error(`invalid skill key "${manifest.key}": use lowercase dotted names like "kb.search"`);
  }
  if (manifest.riskClass !== "READ" && manifest.cacheTtlSeconds > 0) {
    throw new Error(`skill "${manifest.key}": only READ skills may be cached`);
  }
  return manifest;
}

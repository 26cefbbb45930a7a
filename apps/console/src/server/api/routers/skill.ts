import { z } from "zod";
import {
  accessCheckSchema,
  addSkillRule,
  explainSkillAccess,
  getSkill,
  listSkills,
  removeSkillRule,
  ruleAddSchema,
  ruleRemoveSchema,
  type RuleChange,
  type SkillChange,
  skillSettingsSchema,
  type SkillSettingsChange,
  skillUpdateSchema,
  updateSkill,
  updateSkillSettings,
} from "@clawgate/core/console/skills.ts";
import { REASON_CODES } from "@clawgate/core/policy/decide.ts";
import { Environment, RiskClass, RuleEffect, RuleScope, SkillSource } from "@clawgate/db/enums";
import { configMutation, savedOutput } from "../mutation.ts";
import { adminProcedure, createTRPCRouter, viewerProcedure } from "../trpc.ts";

/** What safe mode or the kill switch does to the skill now (beside its own `enabled`). */
const withdrawnBy = z.enum(["kill_switch", "safe_mode", "safe_mode_some"]).nullable();

export const skillListInput = z.object({ riskClass: z.enum(RiskClass).optional() }).optional();

export const skillListOutput = z.array(
  z.object({
    key: z.string(),
    description: z.string(),
    riskClass: z.enum(RiskClass),
    enabled: z.boolean(),
    requiresApproval: z.boolean(),
    environments: z.array(z.enum(Environment)),
    timeoutMs: z.number().int(),
    cacheTtlSeconds: z.number().int(),
    retiredAt: z.date().nullable(),
    /** Built-in, an MCP server's tool or an HTTP tool (Tool sources page). */
    source: z.enum(SkillSource),
    untrustedOutput: z.boolean(),
    rules: z.object({ allow: z.number().int(), deny: z.number().int() }),
    withdrawnBy: withdrawnBy,
  }),
);
export type SkillListItem = z.infer<typeof skillListOutput>[number];

const skillDetailOutput = z.object({
  key: z.string(),
  description: z.string(),
  riskClass: z.enum(RiskClass),
  enabled: z.boolean(),
  requiresApproval: z.boolean(),
  environments: z.array(z.enum(Environment)),
  timeoutMs: z.number().int(),
  cacheTtlSeconds: z.number().int(),
  builtin: z.boolean(),
  retiredAt: z.date().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
  settings: z.record(z.string(), z.unknown()),
  withdrawnBy,
  settingsFields: z.array(
    z.object({
      name: z.string(),
      type: z.string(),
      description: z.string().optional(),
      default: z.unknown().optional(),
      required: z.boolean(),
    }),
  ),
  requiresFlag: z.string().nullable(),
  rules: z.array(
    z.object({
      id: z.string(),
      scope: z.enum(RuleScope),
      subject: z.string(),
      effect: z.enum(RuleEffect),
      note: z.string().nullable(),
      createdAt: z.date(),
    }),
  ),
});

const skillSaved = z.object({
  key: z.string(),
  enabled: z.boolean(),
  requiresApproval: z.boolean(),
  environments: z.array(z.enum(Environment)),
  summary: z.string(),
  ...savedOutput,
});

const settingsSaved = z.object({
  key: z.string(),
  settings: z.record(z.string(), z.unknown()),
  summary: z.string(),
  ...savedOutput,
});

const ruleSaved = z.object({
  id: z.string(),
  skillKey: z.string(),
  scope: z.enum(RuleScope),
  subject: z.string(),
  effect: z.enum(RuleEffect),
  summary: z.string(),
  ...savedOutput,
});

const accessCheckOutput = z.object({
  outcome: z.enum(["allow", "deny", "needs_approval"]),
  reasons: z.array(z.object({ code: z.enum(REASON_CODES), explanation: z.string(), userSees: z.string() })),
  summary: z.string(),
  offered: z.boolean(),
  inChat: z.string(),
  revision: z.number().int(),
  at: z.date(),
  facts: z.object({
    conversation: z.object({ known: z.boolean(), status: z.string().nullable(), environment: z.string().nullable() }),
    skill: z.object({
      known: z.boolean(),
      enabled: z.boolean().nullable(),
      riskClass: z.string().nullable(),
      requiresApproval: z.boolean().nullable(),
      environments: z.array(z.string()),
    }),
    safeMode: z.string().nullable(),
  }),
});

export const skillRouter = createTRPCRouter({
  list: viewerProcedure
    .input(skillListInput)
    .output(skillListOutput)
    .query(({ ctx, input }) => listSkills(ctx.db, { riskClass: input?.riskClass })),

  /** One skill with its rules. */
  get: viewerProcedure
    .input(z.object({ key: z.string().trim().min(1, { error: "key is required" }).max(100) }))
    .output(skillDetailOutput)
    .query(({ ctx, input }) => getSkill(ctx.db, input.key)),

  /** Enabled, requiresApproval, environments (ADMIN). */
  update: adminProcedure
    .input(skillUpdateSchema)
    .output(skillSaved)
    .mutation(async ({ ctx, input }) => {
      const { result, revision, changed } = await configMutation(
        ctx,
        (c: SkillChange) => ({
          action: "skill.update",
          targetType: "skill",
          targetId: c.key,
          diff: c.diff,
          summary: c.summary,
        }),
        (tx) => updateSkill(tx, input),
      );
      return { ...result, revision, changed };
    }),

  /** The skill's settings, validated by its manifest's schema (ADMIN). */
  updateSettings: adminProcedure
    .input(skillSettingsSchema)
    .output(settingsSaved)
    .mutation(async ({ ctx, input }) => {
      const { result, revision, changed } = await configMutation(
        ctx,
        (c: SkillSettingsChange) => ({
          action: "skill.settings.update",
          targetType: "skill",
          targetId: c.key,
          diff: c.diff,
          summary: c.summary,
        }),
        (tx) => updateSkillSettings(tx, input, ctx.secretRefs),
      );
      return { ...result, revision, changed };
    }),

  addRule: adminProcedure
    .input(ruleAddSchema)
    .output(ruleSaved)
    .mutation(async ({ ctx, input }) => {
      const { result, revision, changed } = await configMutation(
        ctx,
        (r: RuleChange) => ({
          action: "skill.rule.add",
          targetType: "skill",
          targetId: r.skillKey,
          diff: r.diff,
          summary: r.summary,
        }),
        (tx) => addSkillRule(tx, input),
      );
      return { ...result, revision, changed };
    }),

  removeRule: adminProcedure
    .input(ruleRemoveSchema)
    .output(ruleSaved)
    .mutation(async ({ ctx, input }) => {
      const { result, revision, changed } = await configMutation(
        ctx,
        (r: RuleChange) => ({
          action: "skill.rule.remove",
          targetType: "skill",
          targetId: r.skillKey,
          diff: r.diff,
          summary: r.summary,
        }),
        (tx) => removeSkillRule(tx, input),
      );
      return { ...result, revision, changed };
    }),

  /** "Can user X in conversation Y use skill Z, and why?": the runtime's snapshot loader and decide. */
  check: viewerProcedure
    .input(accessCheckSchema)
    .output(accessCheckOutput)
    .query(({ ctx, input }) => explainSkillAccess(ctx.db, input)),
});

import { TRPCError } from "@trpc/server";
import { z } from "zod";
import {
  accessCheckSchema,
  addSkillRule,
  explainSkillAccess,
  getSkill,
  knownConversations,
  removeSkillRule,
  ruleAddSchema,
  ruleRemoveSchema,
  SkillError,
  type RuleChange,
  type SkillChange,
  skillSettingsSchema,
  type SkillSettingsChange,
  skillUpdateSchema,
  updateSkill,
  updateSkillSettings,
} from "@clawgate/core/console/skills.ts";
import { Environment, RiskClass, SkillSource } from "@clawgate/db/enums";
import { configMutation } from "../mutation.ts";
import { adminProcedure, createTRPCRouter, viewerProcedure } from "../trpc.ts";

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
  }),
);
export type SkillListItem = z.infer<typeof skillListOutput>[number];

/** Core's refusals as tRPC errors (the message is shown as is); anything else propagates. */
async function refusals<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof SkillError) throw new TRPCError({ code: error.code, message: error.message });
    throw error;
  }
}

export const skillRouter = createTRPCRouter({
  list: viewerProcedure
    .input(skillListInput)
    .output(skillListOutput)
    .query(async ({ ctx, input }) => {
      const where = input?.riskClass ? { riskClass: input.riskClass } : {};
      const [skills, ruleCounts] = await Promise.all([
        ctx.db.skill.findMany({
          where,
          orderBy: { key: "asc" },
          omit: { settings: true, createdAt: true, updatedAt: true, definition: true, pendingDefinition: true },
        }),
        ctx.db.skillRule.groupBy({ by: ["skillKey", "effect"], _count: { _all: true } }),
      ]);
      const count = (key: string, effect: "ALLOW" | "DENY") =>
        ruleCounts.find((r) => r.skillKey === key && r.effect === effect)?._count._all ?? 0;
      return skills.map((s) => ({ ...s, rules: { allow: count(s.key, "ALLOW"), deny: count(s.key, "DENY") } }));
    }),

  /** One skill with its rules. */
  get: viewerProcedure
    .input(z.object({ key: z.string().trim().min(1, { error: "key is required" }).max(100) }))
    .query(({ ctx, input }) => refusals(() => getSkill(ctx.db, input.key))),

  /** Enabled, requiresApproval, environments (ADMIN). */
  update: adminProcedure.input(skillUpdateSchema).mutation(({ ctx, input }) =>
    refusals(async () => {
      const { result, revision } = await configMutation(
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
      return { ...result, revision };
    }),
  ),

  /** The skill's settings, validated by its manifest's schema (ADMIN). */
  updateSettings: adminProcedure.input(skillSettingsSchema).mutation(({ ctx, input }) =>
    refusals(async () => {
      const { result, revision } = await configMutation(
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
      return { ...result, revision };
    }),
  ),

  addRule: adminProcedure.input(ruleAddSchema).mutation(({ ctx, input }) =>
    refusals(async () => {
      const { result, revision } = await configMutation(
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
      return { ...result, revision };
    }),
  ),

  removeRule: adminProcedure.input(ruleRemoveSchema).mutation(({ ctx, input }) =>
    refusals(async () => {
      const { result, revision } = await configMutation(
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
      return { ...result, revision };
    }),
  ),

  /** "Can user X in conversation Y use skill Z, and why?": the runtime's snapshot loader and decide. */
  check: viewerProcedure
    .input(accessCheckSchema)
    .query(({ ctx, input }) => refusals(() => explainSkillAccess(ctx.db, input))),

  /** Conversations the robot has seen, for the check's suggestions. */
  conversations: viewerProcedure.query(({ ctx }) => knownConversations(ctx.db)),
});

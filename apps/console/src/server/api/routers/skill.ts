import { z } from "zod";
import { Environment, RiskClass } from "@clawgate/db/enums";
import { createTRPCRouter, viewerProcedure } from "../trpc.ts";

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
    rules: z.object({ allow: z.number().int(), deny: z.number().int() }),
  }),
);
export type SkillListItem = z.infer<typeof skillListOutput>[number];

export const skillRouter = createTRPCRouter({
  list: viewerProcedure
    .input(skillListInput)
    .output(skillListOutput)
    .query(async ({ ctx, input }) => {
      const where = input?.riskClass ? { riskClass: input.riskClass } : {};
      const [skills, ruleCounts] = await Promise.all([
        ctx.db.skill.findMany({ where, orderBy: { key: "asc" }, omit: { settings: true, createdAt: true, updatedAt: true } }),
        ctx.db.skillRule.groupBy({ by: ["skillKey", "effect"], _count: { _all: true } }),
      ]);
      const count = (key: string, effect: "ALLOW" | "DENY") =>
        ruleCounts.find((r) => r.skillKey === key && r.effect === effect)?._count._all ?? 0;
      return skills.map((s) => ({ ...s, rules: { allow: count(s.key, "ALLOW"), deny: count(s.key, "DENY") } }));
    }),
});

import { z } from "zod";
import { BUILTIN_SKILLS, help } from "../builtin.ts";
import { fail, handlerFor } from "../handler.ts";

// The runtime passes the skills the policy allows here, so help never advertises a denied one.
const Settings = z.object({ available: z.array(z.string()).default([]) });

export const helpHandler = handlerFor(help, async (_input, ctx) => {
  const settings = Settings.safeParse(ctx.settings ?? {});
  if (!settings.success) return fail("help settings are invalid (available: string[])");
  const { available } = settings.data;
  if (available.length === 0) {
    return {
      ok: true,
      content: "No skills are enabled in this conversation; an admin can enable them in the console.",
      data: { skills: [] },
    };
  }
  const skills = available.map((key) => ({
    key,
    description: BUILTIN_SKILLS.find((s) => s.key === key)?.description ?? "",
  }));
  const lines = skills.map((s) => (s.description ? `- ${s.key}: ${s.description}` : `- ${s.key}`));
  return { ok: true, content: `I can help with:\n${lines.join("\n")}`, data: { skills } };
});

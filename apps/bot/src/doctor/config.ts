/**
 * What `clawgate doctor` checks in the configuration: the things without which the robot runs
 * but does nothing useful (answers nobody, offers no tool, has no admin to change that). One
 * result per check, each failure with its fix. A missing budget is only a warning: the robot
 * works, with token use unlimited.
 */
import { TOOLS_FLAG } from "@clawgate/core";
import type { Db } from "@clawgate/db";
import type { DoctorResult } from "./doctor.ts";

export async function configChecks(db: Db): Promise<DoctorResult[]> {
  const [conversations, flag, skills, admins, budgets] = await Promise.all([
    db.conversation.count({ where: { status: "ENABLED" } }),
    db.featureFlag.findUnique({ where: { key: TOOLS_FLAG }, select: { enabled: true } }),
    db.skill.count({ where: { enabled: true } }),
    db.user.count({ where: { role: "ADMIN", disabledAt: null } }),
    db.tokenBudget.count(),
  ]);
  return [
    conversations > 0
      ? { name: `enabled conversations: ${conversations}`, ok: true }
      : {
          name: "an enabled conversation",
          ok: false,
          details: ["no conversation is enabled: the robot answers every message that it is not enabled yet"],
          fix: "enable one on the console's Conversations page, or onboard `conversations: [{ id: <conversationId>, environment: prod, enabled: true }]`",
        },
    flag?.enabled
      ? { name: `flag ${TOOLS_FLAG} on`, ok: true }
      : {
          name: `flag ${TOOLS_FLAG} on`,
          ok: false,
          details: [
            `${TOOLS_FLAG} is ${flag ? "off" : "missing"}: the model is offered no skill, the robot only chats`,
          ],
          fix: flag
            ? `turn it on in the console (Feature flags) or onboard \`flags: { ${TOOLS_FLAG}: on }\``
            : `run \`clawgate migrate\` (it creates the default flags) or onboard \`flags: { ${TOOLS_FLAG}: { enabled: true, description: "Offer skills to the model" } }\``,
        },
    skills > 0
      ? { name: `enabled skills: ${skills}`, ok: true }
      : {
          name: "an enabled skill",
          ok: false,
          details: ["no skill is enabled: the model has no tool to offer"],
          fix: "enable skills in the console (Skills) or onboard `skills: [{ key: kb.search, enabled: true }]`",
        },
    admins > 0
      ? { name: `console admins: ${admins}`, ok: true }
      : {
          name: "a console admin",
          ok: false,
          details: ["no active ADMIN user: nobody can change the configuration in the console"],
          fix: "run `clawgate user add --email <you@company> --role ADMIN`, or onboard `users: [{ email: <you@company>, role: admin }]`",
        },
    budgets > 0
      ? { name: `token budgets: ${budgets}`, ok: true }
      : {
          name: "a token budget",
          ok: true,
          warning: true,
          details: ["no budget at all: token use is unlimited"],
          fix: "set a default budget in the console (Budgets & limits) or onboard `budgets: { default: { daily_tokens: 200000 } }`",
        },
  ];
}

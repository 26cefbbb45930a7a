import { approvalRouter } from "./routers/approval.ts";
import { auditRouter } from "./routers/audit.ts";
import { budgetRouter } from "./routers/budget.ts";
import { conversationRouter } from "./routers/conversation.ts";
import { conversationLogRouter } from "./routers/conversation-log.ts";
import { deadLetterRouter } from "./routers/dead-letter.ts";
import { incidentRouter } from "./routers/incident.ts";
import { flagRouter } from "./routers/flag.ts";
import { modelRouter } from "./routers/model.ts";
import { overviewRouter } from "./routers/overview.ts";
import { retentionRouter } from "./routers/retention.ts";
import { safeModeRouter } from "./routers/safe-mode.ts";
import { skillRouter } from "./routers/skill.ts";
import { subjectRouter } from "./routers/subject.ts";
import { toolSourceRouter } from "./routers/tool-source.ts";
import { userRouter } from "./routers/user.ts";
import { createCallerFactory, createTRPCRouter } from "./trpc.ts";

export const appRouter = createTRPCRouter({
  overview: overviewRouter,
  conversation: conversationRouter,
  conversationLog: conversationLogRouter,
  skill: skillRouter,
  toolSource: toolSourceRouter,
  approval: approvalRouter,
  flag: flagRouter,
  safeMode: safeModeRouter,
  incident: incidentRouter,
  model: modelRouter,
  budget: budgetRouter,
  user: userRouter,
  audit: auditRouter,
  retention: retentionRouter,
  deadLetter: deadLetterRouter,
  subject: subjectRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);

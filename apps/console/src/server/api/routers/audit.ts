import { createTRPCRouter } from "../trpc.ts";

export const auditRouter = createTRPCRouter({});

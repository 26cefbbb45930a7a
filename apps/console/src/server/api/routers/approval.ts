import { createTRPCRouter } from "../trpc.ts";

export const approvalRouter = createTRPCRouter({});

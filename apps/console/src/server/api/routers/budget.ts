import { createTRPCRouter } from "../trpc.ts";

export const budgetRouter = createTRPCRouter({});

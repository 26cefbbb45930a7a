import { createTRPCRouter } from "../trpc.ts";

export const overviewRouter = createTRPCRouter({});

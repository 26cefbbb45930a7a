import { createTRPCRouter } from "../trpc.ts";

export const modelRouter = createTRPCRouter({});

import { createTRPCRouter } from "../trpc.ts";

export const flagRouter = createTRPCRouter({});

import { createTRPCRouter } from "../trpc.ts";

export const conversationRouter = createTRPCRouter({});

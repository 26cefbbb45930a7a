import { createTRPCRouter } from "../trpc.ts";

export const safeModeRouter = createTRPCRouter({});

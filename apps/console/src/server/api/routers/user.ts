import { createTRPCRouter } from "../trpc.ts";

export const userRouter = createTRPCRouter({});

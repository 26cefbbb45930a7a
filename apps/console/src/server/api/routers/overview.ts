import { getOverview } from "@clawgate/core/console/overview.ts";
import { createTRPCRouter, viewerProcedure } from "../trpc.ts";

export type OverviewData = Awaited<ReturnType<typeof getOverview>>;

export const overviewRouter = createTRPCRouter({
  /** Everything the Overview page shows, in one read (the page polls it every few seconds). */
  get: viewerProcedure.query(({ ctx }) => getOverview(ctx.db)),
});

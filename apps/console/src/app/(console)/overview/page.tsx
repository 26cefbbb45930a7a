import type { Metadata } from "next";
import { getQueryClient, HydrateClient, trpc } from "~/trpc/server.tsx";
import { OverviewDashboard } from "./overview-dashboard.tsx";

export const metadata: Metadata = { title: "Overview" };

export default async function OverviewPage() {
  await getQueryClient().prefetchQuery(trpc.overview.get.queryOptions());
  return (
    <HydrateClient>
      <div className="space-y-4">
        <div>
          <h1 className="text-2xl font-semibold tracking-tight">Overview</h1>
          <p className="mt-1 text-sm text-slate-600">Safe mode, runtime replicas and their config, and the last 24 hours at a glance.</p>
        </div>
        <OverviewDashboard />
      </div>
    </HydrateClient>
  );
}

import type { Metadata } from "next";
import { PageHeader } from "~/components/ui/page-header.tsx";
import { getQueryClient, HydrateClient, trpc } from "~/trpc/server.tsx";
import { OverviewDashboard } from "./overview-dashboard.tsx";

export const metadata: Metadata = { title: "Overview" };

export default async function OverviewPage() {
  await getQueryClient().prefetchQuery(trpc.overview.get.queryOptions());
  return (
    <HydrateClient>
      <div className="space-y-4">
        <PageHeader title="Overview">
          Safe mode, runtime replicas and their config, and the last 24 hours at a glance.
        </PageHeader>
        <OverviewDashboard />
      </div>
    </HydrateClient>
  );
}

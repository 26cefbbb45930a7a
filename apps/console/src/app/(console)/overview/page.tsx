import type { Metadata } from "next";
import { PageHeader } from "~/components/ui/page-header.tsx";
import { getSession } from "~/server/auth.ts";
import { getQueryClient, HydrateClient, trpc } from "~/trpc/server.tsx";
import { DeadLettersCard } from "./dead-letters-card.tsx";
import { IncidentsCard } from "./incidents-card.tsx";
import { OverviewDashboard } from "./overview-dashboard.tsx";

export const metadata: Metadata = { title: "Overview" };

export default async function OverviewPage() {
  const queryClient = getQueryClient();
  const [session] = await Promise.all([
    getSession(),
    queryClient.prefetchQuery(trpc.overview.get.queryOptions()),
    queryClient.prefetchQuery(trpc.deadLetter.list.queryOptions()),
    queryClient.prefetchQuery(trpc.incident.list.queryOptions({ status: "UNREVIEWED" })),
  ]);
  const role = session?.user.role;
  return (
    <HydrateClient>
      <div className="space-y-4">
        <PageHeader title="Overview">
          Safe mode, runtime replicas and their config, and the last 24 hours at a glance.
        </PageHeader>
        <IncidentsCard />
        <OverviewDashboard />
        {/* The server refuses other roles anyway; this only hides the button they cannot use. */}
        <DeadLettersCard canRetry={role === "ADMIN" || role === "OPERATOR"} />
      </div>
    </HydrateClient>
  );
}

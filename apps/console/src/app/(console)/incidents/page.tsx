import type { Metadata } from "next";
import { PageHeader } from "~/components/ui/page-header.tsx";
import { getQueryClient, HydrateClient, trpc } from "~/trpc/server.tsx";
import { IncidentsTable } from "./incidents-table.tsx";

export const metadata: Metadata = { title: "Incidents" };

export default async function IncidentsPage() {
  await getQueryClient().prefetchQuery(trpc.incident.list.queryOptions());
  return (
    <HydrateClient>
      <div className="space-y-4">
        <PageHeader title="Incidents">
          Every safe-mode activation, kill switch, break-glass sign-in and opened breaker opens an incident (or joins
          the open one). Once its triggers end it needs a review; nothing in its window is deleted until it has one.
          From a shell: <code className="font-mono">clawgate incident list</code>.
        </PageHeader>
        <IncidentsTable />
      </div>
    </HydrateClient>
  );
}

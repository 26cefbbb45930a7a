import type { Metadata } from "next";
import { hasRole } from "~/server/api/roles.ts";
import { getSession } from "~/server/auth.ts";
import { getQueryClient, HydrateClient, trpc } from "~/trpc/server.tsx";
import { IncidentDetail } from "./incident-detail.tsx";

export const metadata: Metadata = { title: "Incident" };

export default async function IncidentPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const session = await getSession();
  // Reviews: operators and admins (the server checks again).
  const canReview = hasRole(session?.user.role, ["OPERATOR"]);
  await getQueryClient().prefetchQuery(trpc.incident.report.queryOptions({ id }));
  return (
    <HydrateClient>
      <IncidentDetail id={id} canReview={canReview} />
    </HydrateClient>
  );
}

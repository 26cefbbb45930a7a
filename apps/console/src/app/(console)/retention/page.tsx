import type { Metadata } from "next";
import { PageHeader } from "~/components/ui/page-header.tsx";
import { hasRole } from "~/server/api/roles.ts";
import { getSession } from "~/server/auth.ts";
import { getQueryClient, HydrateClient, trpc } from "~/trpc/server.tsx";
import { RetentionForm } from "./retention-form.tsx";

export const metadata: Metadata = { title: "Retention" };

export default async function RetentionPage() {
  const session = await getSession();
  const canEdit = hasRole(session?.user.role, []);
  await getQueryClient().prefetchQuery(trpc.retention.get.queryOptions());
  return (
    <HydrateClient>
      <div className="space-y-4">
        <PageHeader title="Retention">
          How long each kind of data is kept. The runtime purges what is older every hour, except what falls in the
          window of an incident not yet reviewed. Now: <code className="font-mono">clawgate retention run</code>
        </PageHeader>
        <RetentionForm canEdit={canEdit} />
      </div>
    </HydrateClient>
  );
}

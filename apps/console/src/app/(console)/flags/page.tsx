import type { Metadata } from "next";
import { PageHeader } from "~/components/ui/page-header.tsx";
import { hasRole } from "~/server/api/roles.ts";
import { getSession } from "~/server/auth.ts";
import { getQueryClient, HydrateClient, trpc } from "~/trpc/server.tsx";
import { FlagsTable } from "./flags-table.tsx";

export const metadata: Metadata = { title: "Feature flags" };

export default async function FlagsPage() {
  const session = await getSession();
  const canEdit = hasRole(session?.user.role, []);
  await getQueryClient().prefetchQuery(trpc.flag.list.queryOptions());
  return (
    <HydrateClient>
      <div className="space-y-4">
        <PageHeader title="Feature flags">
          Switches the runtime reads with the rest of the policy. <code className="font-mono">agent.tools</code> gates
          every skill; a skill can name another flag it needs.
        </PageHeader>
        <FlagsTable canEdit={canEdit} />
      </div>
    </HydrateClient>
  );
}

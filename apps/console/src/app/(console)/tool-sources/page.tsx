import type { Metadata } from "next";
import { PageHeader } from "~/components/ui/page-header.tsx";
import { hasRole } from "~/server/api/roles.ts";
import { getSession } from "~/server/auth.ts";
import { getQueryClient, HydrateClient, trpc } from "~/trpc/server.tsx";
import { ToolSources } from "./tool-sources.tsx";

export const metadata: Metadata = { title: "Tool sources" };

export default async function ToolSourcesPage() {
  const session = await getSession();
  const canEdit = hasRole(session?.user.role, []);
  await getQueryClient().prefetchQuery(trpc.toolSource.list.queryOptions());
  return (
    <HydrateClient>
      <div className="space-y-4">
        <PageHeader title="Tool sources">
          MCP servers and HTTP tools: skills from outside the code, under the same policy, approvals and audit. A new
          tool stays disabled until an admin enables it; enabling pins its definition, and a tool its server later
          changes is withdrawn until an admin approves the change. Their output is untrusted: after it, every write in
          the same turn waits for an approver.
        </PageHeader>
        <ToolSources canEdit={canEdit} />
      </div>
    </HydrateClient>
  );
}

import type { Metadata } from "next";
import { PageHeader } from "~/components/ui/page-header.tsx";
import { getSession } from "~/server/auth.ts";
import { getQueryClient, HydrateClient, trpc } from "~/trpc/server.tsx";
import { ApprovalsView } from "./approvals-view.tsx";
import { DEFAULT_LIST } from "./list-input.ts";

export const metadata: Metadata = { title: "Approvals" };

export default async function ApprovalsPage() {
  const [session] = await Promise.all([
    getSession(),
    getQueryClient().prefetchQuery(trpc.approval.list.queryOptions(DEFAULT_LIST)),
  ]);
  const role = session?.user.role;
  return (
    <HydrateClient>
      <div className="space-y-4">
        <PageHeader title="Approvals">
          Write and destructive skill calls wait here for an approver. Judge the input: once approved, the runtime runs
          exactly this call and replies in the original conversation.
        </PageHeader>
        {/* The server refuses other roles anyway; this only hides controls they cannot use. */}
        <ApprovalsView canDecide={role === "ADMIN" || role === "APPROVER"} />
      </div>
    </HydrateClient>
  );
}

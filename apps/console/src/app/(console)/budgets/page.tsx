import type { Metadata } from "next";
import { PageHeader } from "~/components/ui/page-header.tsx";
import { getSession } from "~/server/auth.ts";
import { getQueryClient, HydrateClient, trpc } from "~/trpc/server.tsx";
import { BudgetsView } from "./budgets-view.tsx";

export const metadata: Metadata = { title: "Budgets & limits" };

export default async function BudgetsPage() {
  const qc = getQueryClient();
  const [session] = await Promise.all([
    getSession(),
    qc.prefetchQuery(trpc.budget.list.queryOptions()),
    // Names for the USER and CONVERSATION budgets' ids.
    qc.prefetchQuery(trpc.subject.seen.queryOptions()),
  ]);
  return (
    <HydrateClient>
      <div className="space-y-4">
        <PageHeader title="Budgets & limits">
          Token budgets per day and month, context size and request rate, for the organisation, each conversation and
          each user. Empty means unlimited; windows reset at 00:00 UTC and on the 1st of the month.
        </PageHeader>
        {/* The server refuses non-admins anyway; this only hides controls they cannot use. */}
        <BudgetsView canEdit={session?.user.role === "ADMIN"} />
      </div>
    </HydrateClient>
  );
}

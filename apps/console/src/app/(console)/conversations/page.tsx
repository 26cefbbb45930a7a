import type { Metadata } from "next";
import { PageHeader } from "~/components/ui/page-header.tsx";
import { hasRole, ROLE_SETS } from "~/server/api/roles.ts";
import { getSession } from "~/server/auth.ts";
import { getQueryClient, HydrateClient, trpc } from "~/trpc/server.tsx";
import { ConversationsTable } from "./conversations-table.tsx";
import { INITIAL_FILTERS } from "./filters.ts";

export const metadata: Metadata = { title: "Conversations" };

export default async function ConversationsPage() {
  const session = await getSession();
  await getQueryClient().prefetchQuery(trpc.conversation.list.queryOptions(INITIAL_FILTERS));
  return (
    <HydrateClient>
      <div className="space-y-4">
        <PageHeader title="Conversations">
          DingTalk groups and chats the robot has seen. New ones wait as pending (the robot answers &ldquo;not enabled
          yet&rdquo;) until an operator enables them; the environment picks which skills apply.
        </PageHeader>
        <ConversationsTable canEdit={hasRole(session?.user.role, ROLE_SETS.operator)} />
      </div>
    </HydrateClient>
  );
}

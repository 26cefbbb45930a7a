import type { Metadata } from "next";
import Link from "next/link";
import { PageHeader } from "~/components/ui/page-header.tsx";
import { hasRole, ROLE_SETS } from "~/server/api/roles.ts";
import { getSession } from "~/server/auth.ts";
import { getQueryClient, HydrateClient, trpc } from "~/trpc/server.tsx";
import { ConversationLogView } from "./log-view.tsx";

export const metadata: Metadata = { title: "Conversation log" };

/**
 * The log itself is fetched by the client only (not prefetched here): a view that shows texts
 * writes an audit entry, and a server prefetch plus the client's fetch would write two.
 */
export default async function ConversationLogPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  const session = await getSession();
  await getQueryClient().prefetchQuery(trpc.conversationLog.textRoles.queryOptions());
  return (
    <HydrateClient>
      <div className="space-y-4">
        <p className="text-sm">
          <Link href="/conversations" className="font-semibold text-indigo-700 hover:underline">
            ← Conversations
          </Link>
        </p>
        <PageHeader title="Conversation log">
          Each message, the robot&rsquo;s answer and the skills it ran, was refused or waits on, newest first. Message
          texts are shown only to the roles allowed below; each view of them is recorded in the audit log.
        </PageHeader>
        <ConversationLogView
          id={decodeURIComponent(id)}
          role={session?.user.role ?? "VIEWER"}
          isAdmin={hasRole(session?.user.role, ROLE_SETS.admin)}
        />
      </div>
    </HydrateClient>
  );
}

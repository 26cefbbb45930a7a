import type { Metadata } from "next";
import { PageHeader } from "~/components/ui/page-header.tsx";
import { hasRole, ROLE_SETS } from "~/server/api/roles.ts";
import { getSession } from "~/server/auth.ts";
import { getQueryClient, HydrateClient, trpc } from "~/trpc/server.tsx";
import { INITIAL_USER_FILTERS } from "./filters.ts";
import { UsersTable } from "./users-table.tsx";

export const metadata: Metadata = { title: "Users & roles" };

export default async function UsersPage() {
  const session = await getSession();
  await getQueryClient().prefetchQuery(trpc.user.list.queryOptions(INITIAL_USER_FILTERS));
  return (
    <HydrateClient>
      <div className="space-y-4">
        <PageHeader title="Users & roles">
          Who may use the console. People sign in with SSO (or DingTalk, by email); admins add people and give roles.
          Demoting or disabling someone ends their sessions at once.
        </PageHeader>
        <UsersTable canEdit={hasRole(session?.user.role, ROLE_SETS.admin)} selfId={session?.user.id ?? ""} />
      </div>
    </HydrateClient>
  );
}

import type { Metadata } from "next";
import { PageHeader } from "~/components/ui/page-header.tsx";
import { hasRole, ROLE_SETS } from "~/server/api/roles.ts";
import { getSession } from "~/server/auth.ts";
import { getQueryClient, HydrateClient, trpc } from "~/trpc/server.tsx";
import { AuditLogView } from "./audit-log-view.tsx";
import { AUDIT_PAGE_SIZE } from "./filters.ts";

export const metadata: Metadata = { title: "Audit log" };

export default async function AuditPage() {
  const session = await getSession();
  const qc = getQueryClient();
  await Promise.all([
    qc.prefetchQuery(trpc.audit.list.queryOptions({ limit: AUDIT_PAGE_SIZE })),
    qc.prefetchQuery(trpc.audit.targetTypes.queryOptions()),
  ]);
  return (
    <HydrateClient>
      <div className="space-y-4">
        <PageHeader title="Audit log">
          Every change and decision that matters, newest first. The log is append-only and hash-chained: verifying
          recomputes the chain. Exports (CSV, JSON) take the filters applied here and are audited too.
        </PageHeader>
        <AuditLogView canExport={hasRole(session?.user.role, ROLE_SETS.auditExport)} />
      </div>
    </HydrateClient>
  );
}

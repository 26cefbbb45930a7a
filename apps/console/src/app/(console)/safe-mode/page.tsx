import type { Metadata } from "next";
import { PageHeader } from "~/components/ui/page-header.tsx";
import { hasRole } from "~/server/api/roles.ts";
import { getSession } from "~/server/auth.ts";
import { getQueryClient, HydrateClient, trpc } from "~/trpc/server.tsx";
import { SafeModePanel } from "./safe-mode-panel.tsx";

export const metadata: Metadata = { title: "Safe mode" };

export default async function SafeModePage() {
  const session = await getSession();
  // The break-glass switch: operators and admins.
  const canOperate = hasRole(session?.user.role, ["OPERATOR"]);
  const qc = getQueryClient();
  await Promise.all([
    qc.prefetchQuery(trpc.safeMode.get.queryOptions()),
    qc.prefetchQuery(trpc.safeMode.history.queryOptions({ limit: 10 })),
  ]);
  return (
    <HydrateClient>
      <div className="space-y-4">
        <PageHeader title="Safe mode">
          The break-glass switch. <strong>Read-only</strong>: only READ skills run. <strong>Maintenance</strong>: the
          robot calls no model and answers every message with the status message. With the console down:{" "}
          <code className="font-mono">clawgate safe-mode on --reason …</code>
        </PageHeader>
        <SafeModePanel canOperate={canOperate} />
      </div>
    </HydrateClient>
  );
}

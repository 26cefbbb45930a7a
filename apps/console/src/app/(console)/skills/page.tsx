import type { Metadata } from "next";
import { PageHeader } from "~/components/ui/page-header.tsx";
import { hasRole } from "~/server/api/roles.ts";
import { getSession } from "~/server/auth.ts";
import { getQueryClient, HydrateClient, trpc } from "~/trpc/server.tsx";
import { SkillsTable } from "./skills-table.tsx";

export const metadata: Metadata = { title: "Skills" };

export default async function SkillsPage() {
  const session = await getSession();
  // Admins change skills; everyone else reads (the server refuses their mutations anyway).
  const canEdit = hasRole(session?.user.role, []);
  const qc = getQueryClient();
  await Promise.all([
    qc.prefetchQuery(trpc.skill.list.queryOptions()),
    qc.prefetchQuery(trpc.subject.seen.queryOptions()),
  ]);
  return (
    <HydrateClient>
      <div className="space-y-4">
        <PageHeader title="Skills">
          What the robot may do. Write and destructive skills need an approver&apos;s grant when marked. Open a skill
          for its allow and deny rules.
        </PageHeader>
        <SkillsTable canEdit={canEdit} />
      </div>
    </HydrateClient>
  );
}

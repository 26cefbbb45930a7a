import type { Metadata } from "next";
import { getQueryClient, HydrateClient, trpc } from "~/trpc/server.tsx";
import { SkillsTable } from "./skills-table.tsx";

export const metadata: Metadata = { title: "Skills" };

export default async function SkillsPage() {
  await getQueryClient().prefetchQuery(trpc.skill.list.queryOptions());
  return (
    <HydrateClient>
      <div className="space-y-4">
        <div>
          <h1 className="text-2xl font-semibold tracking-tight">Skills</h1>
          <p className="mt-1 text-sm text-slate-600">
            What the robot may do. Write and destructive skills need an approver&apos;s grant when marked.
          </p>
        </div>
        <SkillsTable />
      </div>
    </HydrateClient>
  );
}

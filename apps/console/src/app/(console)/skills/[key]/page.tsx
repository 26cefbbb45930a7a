import type { Metadata } from "next";
import { hasRole } from "~/server/api/roles.ts";
import { getSession } from "~/server/auth.ts";
import { getQueryClient, HydrateClient, trpc } from "~/trpc/server.tsx";
import { SkillDetail } from "./skill-detail.tsx";

export async function generateMetadata({ params }: { params: Promise<{ key: string }> }): Promise<Metadata> {
  return { title: `Skill ${decodeURIComponent((await params).key)}` };
}

export default async function SkillPage({ params }: { params: Promise<{ key: string }> }) {
  const key = decodeURIComponent((await params).key);
  const session = await getSession();
  const canEdit = hasRole(session?.user.role, []);
  const qc = getQueryClient();
  // A missing skill is rendered by the client as "not found" (the query's error).
  await Promise.all([
    qc.prefetchQuery(trpc.skill.get.queryOptions({ key })),
    qc.prefetchQuery(trpc.skill.conversations.queryOptions()),
  ]);
  return (
    <HydrateClient>
      <SkillDetail skillKey={key} canEdit={canEdit} />
    </HydrateClient>
  );
}

import { TRPCError } from "@trpc/server";
import type { Metadata } from "next";
import { notFound } from "next/navigation";
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
  await Promise.all([
    qc.prefetchQuery(trpc.skill.get.queryOptions({ key })),
    qc.prefetchQuery(trpc.subject.seen.queryOptions()),
  ]);
  // An unknown skill is a 404 in the console's frame, answered by the server (a failed query is
  // not sent to the browser, which would otherwise ask again and show "Loading…" meanwhile).
  const skill = qc.getQueryState(trpc.skill.get.queryKey({ key }));
  if (skill?.error instanceof TRPCError && skill.error.code === "NOT_FOUND") notFound();
  return (
    <HydrateClient>
      <SkillDetail skillKey={key} canEdit={canEdit} />
    </HydrateClient>
  );
}

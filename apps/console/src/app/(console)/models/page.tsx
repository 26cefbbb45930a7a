import type { Metadata } from "next";
import { PageHeader } from "~/components/ui/page-header.tsx";
import { getSession } from "~/server/auth.ts";
import { getQueryClient, HydrateClient, trpc } from "~/trpc/server.tsx";
import { ModelsView } from "./models-view.tsx";

export const metadata: Metadata = { title: "Models & routes" };

export default async function ModelsPage() {
  const [session] = await Promise.all([getSession(), getQueryClient().prefetchQuery(trpc.model.list.queryOptions())]);
  return (
    <HydrateClient>
      <div className="space-y-4">
        <PageHeader title="Models & routes">
          The OpenAI-compatible endpoints the robot calls, and which one answers each conversation. API keys stay in the
          runtime&apos;s environment: only the env var&apos;s name is stored.
        </PageHeader>
        {/* The server refuses non-admins anyway; this only hides controls they cannot use. */}
        <ModelsView canEdit={session?.user.role === "ADMIN"} />
      </div>
    </HydrateClient>
  );
}

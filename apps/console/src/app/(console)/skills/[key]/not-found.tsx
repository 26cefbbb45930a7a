/** An unknown skill key (the page calls `notFound()`): said in words, inside the console's frame. */
import type { Metadata } from "next";
import Link from "next/link";
import { EmptyState } from "~/components/ui/empty-state.tsx";

export const metadata: Metadata = { title: "No such skill" };

export default function SkillNotFound() {
  return (
    <div className="space-y-4">
      <Link href="/skills" className="text-sm font-medium text-indigo-700 hover:underline">
        ← All skills
      </Link>
      <h1 className="text-2xl font-semibold tracking-tight">No such skill</h1>
      <EmptyState title="There is no skill with this name.">Pick one from the list of skills.</EmptyState>
    </div>
  );
}

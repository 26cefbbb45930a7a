/**
 * "Not found" inside the console's frame (header and navigation stay): an unknown address (the
 * catch-all route below) or a page that calls `notFound()` for a record that does not exist.
 */
import type { Metadata } from "next";
import Link from "next/link";
import { EmptyState } from "~/components/ui/empty-state.tsx";

export const metadata: Metadata = { title: "Not found" };

export default function ConsoleNotFound() {
  return (
    <div className="space-y-4">
      <h1 className="text-2xl font-semibold tracking-tight">Page not found</h1>
      <EmptyState
        title="There is nothing at this address."
        action={
          <Link href="/overview" className="text-sm font-semibold text-indigo-700 hover:underline">
            Go to the overview
          </Link>
        }
      >
        It may have been mistyped, or what it showed was removed. The menu lists every page.
      </EmptyState>
    </div>
  );
}

/** "Not found" outside the console's frame (addresses no layout claims; signed-in ones get (console)/not-found.tsx). */
import type { Metadata } from "next";
import Link from "next/link";

export const metadata: Metadata = { title: "Not found" };

export default function NotFound() {
  return (
    <main className="mx-auto max-w-md px-6 py-24 text-center">
      <h1 className="text-2xl font-semibold tracking-tight">Page not found</h1>
      <p className="mt-2 text-sm text-slate-600">There is nothing at this address.</p>
      <Link href="/overview" className="mt-6 inline-block text-sm font-semibold text-indigo-700 hover:underline">
        Go to the console
      </Link>
    </main>
  );
}

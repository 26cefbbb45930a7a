import type { Metadata } from "next";
import { breakGlassState } from "@clawgate/core/break-glass.ts";
import { getDb } from "@clawgate/db";
import { env } from "~/env.ts";
import { formatDateTime } from "~/components/ui/format.ts";

export const metadata: Metadata = { title: "Break-glass sign-in", referrer: "no-referrer" };
export const dynamic = "force-dynamic";

/**
 * A break-glass link (`clawgate break-glass`): says whom it signs in and until when, and signs in
 * only on the button (a link preview or a scanner opening the URL does not use it up). A used,
 * expired or unknown link says so and changes nothing.
 */
export default async function BreakGlassPage({ params }: { params: Promise<{ token: string }> }) {
  const { token } = await params;
  const state = /^[\w-]{20,100}$/.test(token)
    ? await breakGlassState(getDb(env.DATABASE_URL), token)
    : ({ state: "unknown" } as const);

  return (
    <main className="flex min-h-screen items-center justify-center px-4">
      <div className="w-full max-w-md rounded-xl border border-slate-200 bg-white p-8 shadow-sm">
        <p className="text-sm font-semibold tracking-wide text-red-700 uppercase">Clawgate break-glass</p>
        {state.state === "valid" ? (
          <>
            <h1 className="mt-1 text-2xl font-semibold">Sign in as {state.email}</h1>
            <p className="mt-2 text-sm text-slate-600">
              This one-time link bypasses single sign-on. The session ends at {formatDateTime(state.expiresAt)}. The
              sign-in is audited and opens an incident that must be reviewed.
            </p>
            <p className="mt-2 text-sm text-slate-600">Reason given: {state.reason}</p>
            <form method="post" action="/api/break-glass" className="mt-6">
              <input type="hidden" name="token" value={token} />
              <button
                type="submit"
                className="w-full rounded-md bg-red-700 px-4 py-2 text-sm font-medium text-white hover:bg-red-800"
              >
                Sign in once
              </button>
            </form>
          </>
        ) : (
          <>
            <h1 className="mt-1 text-2xl font-semibold">This link cannot sign you in</h1>
            <p role="alert" className="mt-4 rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800">
              {state.state === "used"
                ? `It was already used (${formatDateTime(state.usedAt)}). A break-glass link signs in once.`
                : state.state === "expired"
                  ? `It expired at ${formatDateTime(state.expiresAt)}.`
                  : "It is not a valid break-glass link."}{" "}
              Nothing was changed.
            </p>
            <p className="mt-4 text-sm text-slate-600">
              Ask an operator with database access for a new one:{" "}
              <code>clawgate break-glass --email … --ttl 15m --reason …</code>
            </p>
          </>
        )}
      </div>
    </main>
  );
}

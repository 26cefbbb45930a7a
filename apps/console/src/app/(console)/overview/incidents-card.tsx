"use client";
/**
 * Incidents on the Overview: those still open or waiting for a review, each linking to its page,
 * and the degraded sources (a breaker still open: its skills are withdrawn from the model).
 */
import Link from "next/link";
import { useQuery } from "@tanstack/react-query";
import { ErrorState } from "~/components/ui/error-state.tsx";
import { formatDateTime } from "~/components/ui/format.ts";
import { useTRPC } from "~/trpc/react.tsx";
import { IncidentStatusBadge } from "../incidents/status-badge.tsx";

export function IncidentsCard() {
  const trpc = useTRPC();
  const { data, error, refetch } = useQuery({
    ...trpc.incident.list.queryOptions({ status: "UNREVIEWED" }),
    refetchInterval: 10_000,
  });
  const degraded = (data ?? []).flatMap((i) =>
    i.triggers.filter((t) => t.kind === "breaker" && t.endedAt === null).map((t) => ({ ...t, incidentId: i.id })),
  );
  return (
    <section
      aria-labelledby="ov-incidents"
      className="min-w-0 rounded-lg border border-slate-200 bg-white p-4 shadow-sm"
      data-testid="incidents"
    >
      <div className="mb-3 flex items-baseline justify-between gap-2">
        <h2 id="ov-incidents" className="text-sm font-semibold text-slate-900">
          Incidents
        </h2>
        <Link href="/incidents" className="text-sm text-indigo-700 hover:underline">
          All incidents
        </Link>
      </div>
      {degraded.length > 0 && (
        <div
          role="status"
          className="mb-3 rounded-md border border-amber-200 bg-amber-50 px-3 py-2 text-sm text-amber-900"
        >
          <p className="font-semibold">Degraded sources</p>
          <ul data-testid="degraded-sources">
            {degraded.map((t, n) => (
              <li key={n} className="break-words">
                {t.summary} (since {formatDateTime(t.startedAt)})
              </li>
            ))}
          </ul>
        </div>
      )}
      {error && !data ? (
        <ErrorState title="The incidents could not be loaded." error={error} onRetry={refetch} />
      ) : !data ? (
        <p className="text-sm text-slate-600">Loading…</p>
      ) : data.length === 0 ? (
        <p className="text-sm text-slate-600">None open or waiting for a review.</p>
      ) : (
        <ul className="divide-y divide-slate-100 text-sm">
          {data.map((i) => (
            <li key={i.id} className="flex flex-wrap items-start justify-between gap-2 py-2">
              <div className="min-w-0">
                <Link href={`/incidents/${i.id}`} className="font-medium break-words text-indigo-700 hover:underline">
                  {i.title}
                </Link>
                <p className="text-xs text-slate-500">
                  since {formatDateTime(i.openedAt)} · {i.triggers.length} trigger{i.triggers.length === 1 ? "" : "s"}
                </p>
              </div>
              <IncidentStatusBadge status={i.status} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

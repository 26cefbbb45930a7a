"use client";
/** The incidents, newest first: status, window, what triggered them. */
import Link from "next/link";
import { useQuery } from "@tanstack/react-query";
import { EmptyState, LoadingState } from "~/components/ui/empty-state.tsx";
import { ErrorState } from "~/components/ui/error-state.tsx";
import { formatDateTime } from "~/components/ui/format.ts";
import { DataTable, td } from "~/components/ui/table.tsx";
import { useTRPC } from "~/trpc/react.tsx";
import { IncidentStatusBadge } from "./status-badge.tsx";

export function IncidentsTable() {
  const trpc = useTRPC();
  const { data, error, refetch, isFetching } = useQuery({
    ...trpc.incident.list.queryOptions(),
    refetchInterval: 10_000,
  });
  if (error && !data) return <ErrorState title="The incidents could not be loaded." error={error} onRetry={refetch} />;
  if (!data) return <LoadingState label="Loading incidents…" />;
  if (data.length === 0) return <EmptyState title="No incidents." />;
  return (
    <DataTable
      caption={`${data.length} incident${data.length === 1 ? "" : "s"}, newest first`}
      columns={["Incident", "Status", "Window", "Triggers"]}
      fetching={isFetching}
    >
      {data.map((i) => (
        <tr key={i.id} data-testid={`incident-${i.id}`}>
          <td className={td}>
            <Link href={`/incidents/${i.id}`} className="font-medium text-indigo-700 hover:underline">
              {i.title}
            </Link>
            <p className="text-xs text-slate-500">opened by {i.openedBy}</p>
          </td>
          <td className={td}>
            <IncidentStatusBadge status={i.status} />
            {i.status === "REVIEWED" && <p className="text-xs text-slate-500">by {i.reviewedBy}</p>}
          </td>
          <td className={`${td} whitespace-nowrap`}>
            {formatDateTime(i.openedAt)}
            <br />
            to {i.closedAt ? formatDateTime(i.closedAt) : "now"}
          </td>
          <td className={td}>
            <ul className="space-y-0.5">
              {i.triggers.map((t, n) => (
                <li key={n} className="break-words">
                  <span className="font-mono text-xs">{t.kind}</span> {t.summary}
                </li>
              ))}
            </ul>
          </td>
        </tr>
      ))}
    </DataTable>
  );
}

"use client";
import Link from "next/link";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ConfirmDialog } from "~/components/ui/confirm-dialog.tsx";
import { EmptyState, LoadingState } from "~/components/ui/empty-state.tsx";
import { ErrorState } from "~/components/ui/error-state.tsx";
import { formatDateTime, savedText } from "~/components/ui/format.ts";
import { InlineStatus, useInlineStatus } from "~/components/ui/inline-status.tsx";
import { Pagination } from "~/components/ui/pagination.tsx";
import { btnDanger, btnPrimary, btnSecondary, control } from "~/components/ui/styles.ts";
import { DataTable, td } from "~/components/ui/table.tsx";
import type { ConversationList, ConversationListItem } from "~/server/api/routers/conversation.ts";
import { useTRPC } from "~/trpc/react.tsx";
import { INITIAL_FILTERS, type ConversationFilters } from "./filters.ts";

type Status = ConversationListItem["status"];
type Env = ConversationListItem["environment"];
type Filters = ConversationFilters;

const STATUS_STYLE: Record<Status, string> = {
  PENDING: "bg-amber-50 text-amber-800 ring-amber-600/30",
  ENABLED: "bg-emerald-50 text-emerald-800 ring-emerald-600/30",
  DISABLED: "bg-slate-100 text-slate-700 ring-slate-500/30",
};
const STATUS_LABEL: Record<Status, string> = { PENDING: "Pending", ENABLED: "Enabled", DISABLED: "Disabled" };

function StatusBadge({ status }: { status: Status }) {
  return (
    <span
      className={`inline-flex rounded-full px-2 py-0.5 text-xs font-semibold ring-1 ring-inset ${STATUS_STYLE[status]}`}
    >
      {STATUS_LABEL[status]}
    </span>
  );
}

const nameOf = (c: ConversationListItem) => c.title ?? (c.type === "SINGLE" ? "Direct chat" : "Untitled group");

export function ConversationsTable({ canEdit }: { canEdit: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const status = useInlineStatus();
  const [filters, setFilters] = useState<Filters>(INITIAL_FILTERS);
  const [searchText, setSearchText] = useState("");
  const [confirmDisable, setConfirmDisable] = useState<ConversationListItem | null>(null);
  const { data, error, isPending, isFetching, refetch } = useQuery({
    ...trpc.conversation.list.queryOptions(filters),
    placeholderData: keepPreviousData,
  });

  const listKey = trpc.conversation.list.pathKey();
  const update = useMutation(
    trpc.conversation.update.mutationOptions({
      // Optimistic: every cached page shows the change at once; rolled back if the server refuses.
      onMutate: async (input) => {
        await queryClient.cancelQueries({ queryKey: listKey });
        const previous = queryClient.getQueriesData<ConversationList>({ queryKey: listKey });
        for (const [key, list] of previous) {
          if (!list) continue;
          queryClient.setQueryData<ConversationList>(key, {
            ...list,
            items: list.items.map((c) =>
              c.id === input.id
                ? {
                    ...c,
                    ...(input.status ? { status: input.status } : {}),
                    ...(input.environment ? { environment: input.environment } : {}),
                  }
                : c,
            ),
          });
        }
        return { previous };
      },
      onError: (e, _input, context) => {
        for (const [key, list] of context?.previous ?? []) queryClient.setQueryData(key, list);
        status.error(`Not saved: ${e.message}`);
      },
      onSuccess: (res) => status.success(savedText(res)),
      onSettled: () => queryClient.invalidateQueries({ queryKey: listKey }),
    }),
  );

  const setFilter = (patch: Partial<Filters>) => setFilters((f) => ({ ...f, ...patch, page: 1 }));
  const counts = data?.counts;
  const tabs: { label: string; value?: Status; count?: number }[] = [
    { label: "All", count: counts ? counts.PENDING + counts.ENABLED + counts.DISABLED : undefined },
    { label: "Pending", value: "PENDING", count: counts?.PENDING },
    { label: "Enabled", value: "ENABLED", count: counts?.ENABLED },
    { label: "Disabled", value: "DISABLED", count: counts?.DISABLED },
  ];

  return (
    <div className="space-y-3">
      <div className="flex flex-col gap-3 lg:flex-row lg:items-end lg:justify-between">
        <div role="group" aria-label="Filter by status" className="flex flex-wrap gap-1">
          {tabs.map((t) => {
            const active = filters.status === t.value;
            const pendingAlert = t.value === "PENDING" && (t.count ?? 0) > 0;
            return (
              <button
                key={t.label}
                type="button"
                aria-pressed={active}
                onClick={() => setFilter({ status: t.value })}
                className={`inline-flex items-center gap-1.5 rounded-md px-3 py-1.5 text-sm font-medium ring-1 ${
                  active
                    ? "bg-indigo-600 text-white ring-indigo-600"
                    : "bg-white text-slate-700 ring-slate-300 hover:bg-slate-100"
                }`}
              >
                {t.label}
                {t.count !== undefined && (
                  <span
                    className={`rounded-full px-1.5 text-xs tabular-nums ${
                      pendingAlert ? "bg-amber-400 font-bold text-amber-950" : active ? "bg-indigo-500" : "bg-slate-100"
                    }`}
                  >
                    {t.count}
                  </span>
                )}
              </button>
            );
          })}
        </div>
        <div className="flex flex-wrap items-end gap-2">
          <label className="flex flex-col text-xs font-medium text-slate-600">
            Environment
            <select
              className={`${control} mt-1`}
              value={filters.environment ?? ""}
              onChange={(e) => setFilter({ environment: (e.target.value || undefined) as Env | undefined })}
            >
              <option value="">All</option>
              <option value="TEST">TEST</option>
              <option value="PROD">PROD</option>
            </select>
          </label>
          <form
            role="search"
            className="flex items-end gap-2"
            onSubmit={(e) => {
              e.preventDefault();
              setFilter({ search: searchText.trim() || undefined });
            }}
          >
            <label className="flex flex-col text-xs font-medium text-slate-600">
              Search by title
              <input
                type="search"
                className={`${control} mt-1 w-48`}
                value={searchText}
                onChange={(e) => setSearchText(e.target.value)}
                placeholder="Group title or id"
              />
            </label>
            <button
              type="submit"
              className="rounded-md bg-white px-3 py-1.5 text-sm font-semibold ring-1 ring-slate-300 hover:bg-slate-100"
            >
              Search
            </button>
          </form>
        </div>
      </div>

      <InlineStatus status={status.current} onDismiss={status.clear} />

      {isPending ? (
        <LoadingState label="Loading conversations…" />
      ) : error && !data ? (
        <ErrorState title="The conversations could not be loaded." error={error} onRetry={refetch} />
      ) : !data || data.items.length === 0 ? (
        <EmptyState
          title={
            filters.status || filters.environment || filters.search
              ? "No conversation matches these filters"
              : "No conversations yet"
          }
          action={
            (filters.status || filters.environment || filters.search) && (
              <button
                type="button"
                onClick={() => {
                  setSearchText("");
                  setFilters(INITIAL_FILTERS);
                }}
                className="rounded-md px-3 py-1.5 font-semibold ring-1 ring-slate-300 hover:bg-slate-100"
              >
                Clear filters
              </button>
            )
          }
        >
          {!(filters.status || filters.environment || filters.search) &&
            "A group or chat appears here, pending, the first time someone messages the robot."}
        </EmptyState>
      ) : (
        <DataTable
          fetching={isFetching}
          caption={
            <>
              {data.total} conversation{data.total === 1 ? "" : "s"}
              {filters.status ? ` ${STATUS_LABEL[filters.status].toLowerCase()}` : ""}
              {filters.environment ? ` in ${filters.environment}` : ""}
              {filters.search ? ` matching “${filters.search}”` : ""}
            </>
          }
          columns={["Conversation", "Type", "Environment", "Status", "Seen", canEdit && "Actions"]}
          footer={
            <Pagination
              label="Conversations"
              page={filters.page}
              pageCount={Math.ceil(data.total / filters.pageSize)}
              onPage={(page) => setFilters((f) => ({ ...f, page }))}
            />
          }
        >
          {data.items.map((c) => (
            <tr key={c.id} className={c.status === "PENDING" ? "bg-amber-50/40" : "hover:bg-slate-50"}>
              <th scope="row" className={`${td} min-w-56 text-left font-normal`}>
                <span className="font-semibold text-slate-900">{nameOf(c)}</span>
                <code className="mt-0.5 block font-mono text-xs text-slate-500">{c.conversationId}</code>
                <Link
                  href={`/conversations/${encodeURIComponent(c.id)}/log`}
                  className="mt-0.5 block text-xs font-semibold text-indigo-700 hover:underline"
                  aria-label={`Log of ${nameOf(c)}`}
                >
                  Log
                </Link>
              </th>
              <td className={`${td} text-slate-700`}>{c.type === "GROUP" ? "Group" : "Direct"}</td>
              <td className={td}>
                {canEdit ? (
                  <select
                    data-mutates
                    aria-label={`Environment of ${nameOf(c)}`}
                    className={control}
                    value={c.environment}
                    disabled={update.isPending && update.variables?.id === c.id}
                    onChange={(e) => update.mutate({ id: c.id, environment: e.target.value as Env })}
                  >
                    <option value="TEST">TEST</option>
                    <option value="PROD">PROD</option>
                  </select>
                ) : (
                  <span className="text-slate-700">{c.environment}</span>
                )}
              </td>
              <td className={td}>
                <StatusBadge status={c.status} />
              </td>
              <td className={`${td} whitespace-nowrap text-slate-600`}>
                <span className="block">Last {formatDateTime(c.lastSeenAt)}</span>
                <span className="block text-xs text-slate-500">First {formatDateTime(c.firstSeenAt)}</span>
              </td>
              {canEdit && (
                <td className={`${td} whitespace-nowrap`}>
                  {c.status === "ENABLED" ? (
                    <button
                      type="button"
                      data-mutates
                      onClick={() => setConfirmDisable(c)}
                      className={btnDanger}
                      aria-label={`Disable ${nameOf(c)}`}
                    >
                      Disable
                    </button>
                  ) : (
                    <button
                      type="button"
                      data-mutates
                      onClick={() => update.mutate({ id: c.id, status: "ENABLED" })}
                      className={btnPrimary}
                      aria-label={`Enable ${nameOf(c)}`}
                    >
                      Enable
                    </button>
                  )}
                  {c.status === "PENDING" && (
                    <button
                      type="button"
                      data-mutates
                      onClick={() => setConfirmDisable(c)}
                      className={`ml-2 ${btnSecondary}`}
                      aria-label={`Disable ${nameOf(c)}`}
                    >
                      Disable
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </DataTable>
      )}

      <ConfirmDialog
        open={confirmDisable !== null}
        onOpenChange={(open) => !open && setConfirmDisable(null)}
        variant="danger"
        title={`Disable “${confirmDisable ? nameOf(confirmDisable) : ""}”?`}
        description="The robot stops answering there on every replica within a second (it replies that it is not enabled). You can enable it again at any time."
        confirmLabel="Disable"
        onConfirm={async () => {
          if (confirmDisable) await update.mutateAsync({ id: confirmDisable.id, status: "DISABLED" });
        }}
      />
    </div>
  );
}

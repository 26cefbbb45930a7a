"use client";
import { keepPreviousData, useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { EmptyState, LoadingState } from "~/components/ui/empty-state.tsx";
import { ErrorState } from "~/components/ui/error-state.tsx";
import { Wrappable } from "~/components/ui/wrappable.tsx";
import { formatDateTime } from "~/components/ui/format.ts";
import { InlineStatus, useInlineStatus } from "~/components/ui/inline-status.tsx";
import { Pagination } from "~/components/ui/pagination.tsx";
import { control as baseControl } from "~/components/ui/styles.ts";
import { DataTable, td } from "~/components/ui/table.tsx";
import type { AuditListItem } from "~/server/api/routers/audit.ts";
import { useTRPC } from "~/trpc/react.tsx";
import { AUDIT_PAGE_SIZE } from "./filters.ts";

interface Filters {
  actionPrefix?: string;
  actor?: string;
  targetType?: string;
  traceId?: string;
  /** yyyy-mm-dd (UTC days, inclusive). */
  fromDay?: string;
  toDay?: string;
}

/** The filter bar's inputs sit under their labels. */
const control = `mt-1 ${baseControl}`;

/** The query input for some filters and a cursor (days as UTC bounds, the end day included). */
function toInput(f: Filters, cursor: string | undefined) {
  return {
    limit: AUDIT_PAGE_SIZE,
    ...(f.actionPrefix ? { actionPrefix: f.actionPrefix } : {}),
    ...(f.actor ? { actor: f.actor } : {}),
    ...(f.targetType ? { targetType: f.targetType } : {}),
    ...(f.traceId ? { traceId: f.traceId } : {}),
    ...(f.fromDay ? { from: new Date(`${f.fromDay}T00:00:00.000Z`) } : {}),
    ...(f.toDay ? { to: new Date(`${f.toDay}T23:59:59.999Z`) } : {}),
    ...(cursor ? { cursor } : {}),
  };
}

/** The export's URL: the same filters as the page, as query parameters (dates as ISO text). */
function exportHref(f: Filters, format: "csv" | "json") {
  const input = toInput(f, undefined);
  const params = new URLSearchParams({ format });
  for (const [k, v] of Object.entries(input)) {
    if (k === "limit") continue;
    params.set(k, v instanceof Date ? v.toISOString() : String(v));
  }
  return `/api/audit/export?${params.toString()}`;
}

const show = (v: unknown) => (v === null || v === undefined ? "none" : typeof v === "string" ? v : JSON.stringify(v));

/** Longer than this, a value shows its start and opens to the whole of it (pretty-printed). */
const LONG = 120;

/** A recorded value: short ones inline, long ones (a bootstrap's list, a settings object) folded. */
function Value({ value, className }: { value: unknown; className: string }) {
  const text = show(value);
  if (text.length <= LONG) return <span className={`wrap-anywhere ${className}`}>{text}</span>;
  const full = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return (
    <details className="inline-block max-w-full align-top">
      <summary className={`cursor-pointer wrap-anywhere ${className}`}>
        {text.slice(0, LONG)}… <span className="font-sans font-semibold text-indigo-700">show all</span>
      </summary>
      <pre className="mt-1 max-h-80 overflow-auto rounded bg-slate-50 p-2 text-[11px] whitespace-pre-wrap wrap-anywhere text-slate-700 ring-1 ring-slate-200">
        {full}
      </pre>
    </details>
  );
}

/** The diff as "field: from -> to" lines; other shapes (summaries, counts) as key: value. */
function Diff({ diff }: { diff: unknown }) {
  if (diff === null || diff === undefined) return <span className="text-slate-400">—</span>;
  if (typeof diff !== "object" || Array.isArray(diff)) return <Value value={diff} className="font-mono text-xs" />;
  const entries = Object.entries(diff as Record<string, unknown>);
  if (entries.length === 0) return <span className="text-slate-400">—</span>;
  return (
    <ul className="space-y-0.5 text-xs">
      {entries.map(([key, value]) => {
        const v = value as Record<string, unknown> | null;
        let body;
        if (v && typeof v === "object" && "from" in v && "to" in v) {
          body = (
            <>
              <del className="text-red-700 decoration-red-300">
                <Value value={v.from} className="" />
              </del>{" "}
              <span aria-hidden>→</span>
              <span className="sr-only"> changed to</span>{" "}
              <ins className="text-emerald-800 no-underline">
                <Value value={v.to} className="" />
              </ins>
            </>
          );
        } else if (v && typeof v === "object" && "changed" in v) {
          body = <span className="text-slate-600">changed (secret: value not recorded)</span>;
        } else {
          body = <Value value={value} className="text-slate-700" />;
        }
        return (
          <li key={key}>
            <span className="font-mono font-semibold text-slate-800">{key}</span>: {body}
          </li>
        );
      })}
    </ul>
  );
}

function Row({ e }: { e: AuditListItem }) {
  return (
    <tr className="hover:bg-slate-50">
      <td className={`${td} whitespace-nowrap text-slate-600`}>
        <time dateTime={e.at.toISOString()}>{formatDateTime(e.at)}</time>
        <span className="block text-xs text-slate-400">#{e.id}</span>
      </td>
      <th scope="row" className={`${td} text-left font-normal`}>
        <code className="font-mono font-semibold text-slate-900">
          <Wrappable text={e.action} />
        </code>
        {e.configRevision !== null && (
          <span className="block text-xs text-slate-500">config revision #{e.configRevision}</span>
        )}
      </th>
      <td className={td}>
        <span className="text-slate-900">
          <Wrappable text={e.actorName} />
        </span>
        {e.actorEmail && e.actorEmail !== e.actorName && (
          <span className="block text-xs text-slate-600">
            <Wrappable text={e.actorEmail} />
          </span>
        )}
        <span className="block text-xs text-slate-500">{e.actorType.toLowerCase()}</span>
      </td>
      <td className={`${td} whitespace-nowrap`}>
        <span className="text-slate-700">{e.targetType}</span>
        {e.targetName && (
          <span className="block max-w-48 truncate text-xs text-slate-900" title={e.targetName}>
            {e.targetName}
          </span>
        )}
        {e.targetId && (
          <code className="block max-w-48 truncate font-mono text-xs text-slate-500" title={e.targetId}>
            {e.targetId}
          </code>
        )}
      </td>
      <td className={`${td} w-1/2 min-w-64 wrap-anywhere`}>
        <Diff diff={e.diff} />
        {e.traceId && <span className="mt-1 block font-mono text-[11px] text-slate-400">trace {e.traceId}</span>}
      </td>
    </tr>
  );
}

export function AuditLogView({ canExport }: { canExport: boolean }) {
  const trpc = useTRPC();
  const verifyStatus = useInlineStatus(15_000);
  const [filters, setFilters] = useState<Filters>({});
  const [draft, setDraft] = useState<Filters>({});
  // Cursor pagination: the cursors of the pages before this one (a stack), and this page's.
  const [cursors, setCursors] = useState<(string | undefined)[]>([]);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const targetTypes = useQuery(trpc.audit.targetTypes.queryOptions());
  const { data, error, isPending, isFetching, refetch } = useQuery({
    ...trpc.audit.list.queryOptions(toInput(filters, cursor)),
    placeholderData: keepPreviousData,
  });
  const verify = useMutation(
    trpc.audit.verify.mutationOptions({
      onSuccess: (r) =>
        r.ok
          ? verifyStatus.success(`Chain intact: all ${r.rows} entries verify (checked ${formatDateTime(r.checkedAt)}).`)
          : verifyStatus.error(
              `Chain broken at entry #${r.firstBadId}: it or an earlier entry was altered or removed.`,
            ),
      onError: (e) => verifyStatus.error(`Could not verify: ${e.message}`),
    }),
  );

  const apply = (f: Filters) => {
    setFilters(f);
    setCursors([]);
    setCursor(undefined);
  };
  const filtered = Object.values(filters).some(Boolean);
  const dateError =
    draft.fromDay && draft.toDay && draft.fromDay > draft.toDay ? "The start date must be before the end date." : null;

  return (
    <div className="space-y-3">
      <form
        aria-label="Filter the audit log"
        className="flex flex-wrap items-end gap-2 rounded-lg border border-slate-200 bg-white p-3"
        onSubmit={(e) => {
          e.preventDefault();
          if (dateError) return;
          apply({
            actionPrefix: draft.actionPrefix?.trim() || undefined,
            actor: draft.actor?.trim() || undefined,
            targetType: draft.targetType || undefined,
            traceId: draft.traceId?.trim() || undefined,
            fromDay: draft.fromDay || undefined,
            toDay: draft.toDay || undefined,
          });
        }}
      >
        <label className="flex flex-col text-xs font-medium text-slate-600">
          Trace id
          <input
            type="search"
            className={`${control} w-56 font-mono`}
            value={draft.traceId ?? ""}
            onChange={(e) => setDraft({ ...draft, traceId: e.target.value })}
            placeholder="find by trace id"
          />
        </label>
        <label className="flex flex-col text-xs font-medium text-slate-600">
          Action starts with
          <input
            className={`${control} w-40`}
            value={draft.actionPrefix ?? ""}
            onChange={(e) => setDraft({ ...draft, actionPrefix: e.target.value })}
            placeholder="skill."
          />
        </label>
        <label className="flex flex-col text-xs font-medium text-slate-600">
          Actor
          <input
            className={`${control} w-44`}
            value={draft.actor ?? ""}
            onChange={(e) => setDraft({ ...draft, actor: e.target.value })}
            placeholder="name, email or id"
          />
        </label>
        <label className="flex flex-col text-xs font-medium text-slate-600">
          Target type
          <select
            className={control}
            value={draft.targetType ?? ""}
            onChange={(e) => setDraft({ ...draft, targetType: e.target.value })}
          >
            <option value="">All</option>
            {(targetTypes.data ?? []).map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label className="flex flex-col text-xs font-medium text-slate-600">
          From (UTC)
          <input
            type="date"
            className={control}
            value={draft.fromDay ?? ""}
            onChange={(e) => setDraft({ ...draft, fromDay: e.target.value })}
          />
        </label>
        <label className="flex flex-col text-xs font-medium text-slate-600">
          To (UTC)
          <input
            type="date"
            className={control}
            value={draft.toDay ?? ""}
            aria-invalid={!!dateError}
            aria-describedby={dateError ? "audit-date-error" : undefined}
            onChange={(e) => setDraft({ ...draft, toDay: e.target.value })}
          />
        </label>
        <div className="flex gap-2">
          <button
            type="submit"
            disabled={!!dateError}
            className="rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-semibold text-white hover:bg-indigo-500 disabled:opacity-50"
          >
            Apply filters
          </button>
          {filtered && (
            <button
              type="button"
              onClick={() => {
                setDraft({});
                apply({});
              }}
              className="rounded-md px-3 py-1.5 text-sm font-semibold ring-1 ring-slate-300 hover:bg-slate-100"
            >
              Clear
            </button>
          )}
        </div>
        {dateError && (
          <p id="audit-date-error" role="alert" className="w-full text-sm text-red-700">
            {dateError}
          </p>
        )}
        <div className="ml-auto flex flex-wrap gap-2">
          {canExport && (
            <>
              <a
                href={exportHref(filters, "csv")}
                download
                className="rounded-md px-3 py-1.5 text-sm font-semibold ring-1 ring-slate-300 hover:bg-slate-100"
              >
                Export CSV
              </a>
              <a
                href={exportHref(filters, "json")}
                download
                className="rounded-md px-3 py-1.5 text-sm font-semibold ring-1 ring-slate-300 hover:bg-slate-100"
              >
                Export JSON
              </a>
            </>
          )}
          <button
            type="button"
            onClick={() => verify.mutate()}
            disabled={verify.isPending}
            className="rounded-md px-3 py-1.5 text-sm font-semibold ring-1 ring-slate-300 hover:bg-slate-100 disabled:cursor-wait disabled:opacity-60"
          >
            {verify.isPending ? "Verifying…" : "Verify chain"}
          </button>
        </div>
      </form>

      <InlineStatus status={verifyStatus.current} onDismiss={verifyStatus.clear} />

      {isPending ? (
        <LoadingState label="Loading the audit log…" />
      ) : error && !data ? (
        <ErrorState title="The audit log could not be loaded." error={error} onRetry={refetch} />
      ) : !data || data.items.length === 0 ? (
        <EmptyState title={filtered ? "No entry matches these filters" : "The audit log is empty"} />
      ) : (
        <DataTable
          fetching={isFetching}
          caption="Audit log entries, newest first"
          captionHidden
          columns={["When", "Action", "Actor", "Target", "Change"]}
          footer={
            <Pagination
              label="Audit log"
              summary={`Page ${cursors.length + 1}`}
              hasPrevious={cursors.length > 0}
              hasNext={!!data.nextCursor}
              onPrevious={() => {
                setCursor(cursors.at(-1));
                setCursors(cursors.slice(0, -1));
              }}
              onNext={() => {
                setCursors([...cursors, cursor]);
                setCursor(data.nextCursor ?? undefined);
              }}
            />
          }
        >
          {data.items.map((e) => (
            <Row key={e.id} e={e} />
          ))}
        </DataTable>
      )}
    </div>
  );
}

"use client";
import type { Role } from "@clawgate/db/enums";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { EmptyState, LoadingState } from "~/components/ui/empty-state.tsx";
import { ErrorState } from "~/components/ui/error-state.tsx";
import { formatDateTime, formatNumber } from "~/components/ui/format.ts";
import { InlineStatus, useInlineStatus } from "~/components/ui/inline-status.tsx";
import { Pagination } from "~/components/ui/pagination.tsx";
import { btnPrimary, btnSecondary, control as baseControl } from "~/components/ui/styles.ts";
import { DataTable, td } from "~/components/ui/table.tsx";
import type { ConversationLogItem } from "~/server/api/routers/conversation-log.ts";
import { useTRPC } from "~/trpc/react.tsx";

const PAGE_SIZE = 25;
const ROLES: Role[] = ["ADMIN", "APPROVER", "OPERATOR", "VIEWER"];
const OUTCOMES = [
  ["replied", "Replied"],
  ["denied", "Denied (message)"],
  ["failed", "Failed"],
  ["in_progress", "In progress"],
  ["skill_ran", "A skill ran"],
  ["skill_denied", "A skill was denied"],
  ["skill_waiting", "A skill waits for approval"],
  ["skill_failed", "A skill failed"],
] as const;
type Outcome = (typeof OUTCOMES)[number][0];

interface Filters {
  user?: string;
  skill?: string;
  outcome?: Outcome;
  traceId?: string;
  fromDay?: string;
  toDay?: string;
}

const control = `mt-1 ${baseControl}`;
const label = "flex flex-col text-xs font-medium text-slate-600";

function toInput(id: string, f: Filters, cursor: string | undefined) {
  return {
    id,
    limit: PAGE_SIZE,
    ...(f.user ? { user: f.user } : {}),
    ...(f.skill ? { skill: f.skill } : {}),
    ...(f.outcome ? { outcome: f.outcome } : {}),
    ...(f.traceId ? { traceId: f.traceId } : {}),
    ...(f.fromDay ? { from: new Date(`${f.fromDay}T00:00:00.000Z`) } : {}),
    ...(f.toDay ? { to: new Date(`${f.toDay}T23:59:59.999Z`) } : {}),
    ...(cursor ? { cursor } : {}),
  };
}

const OUTCOME_STYLE: Record<string, string> = {
  SUCCESS: "bg-emerald-50 text-emerald-800 ring-emerald-200",
  DENIED: "bg-red-50 text-red-800 ring-red-200",
  PENDING_APPROVAL: "bg-amber-50 text-amber-800 ring-amber-200",
  ERROR: "bg-red-50 text-red-800 ring-red-200",
  TIMEOUT: "bg-red-50 text-red-800 ring-red-200",
};
const OUTCOME_LABEL: Record<string, string> = {
  SUCCESS: "ran",
  DENIED: "denied",
  PENDING_APPROVAL: "waits for approval",
  ERROR: "failed",
  TIMEOUT: "timed out",
};

function Hidden() {
  return <span className="text-xs text-slate-400 italic">text hidden for your role</span>;
}

function Row({ m }: { m: ConversationLogItem }) {
  return (
    <tr className="hover:bg-slate-50" data-testid="log-row">
      <th scope="row" className={`${td} text-left font-normal whitespace-nowrap text-slate-600`}>
        <time dateTime={m.receivedAt.toISOString()}>{formatDateTime(m.receivedAt)}</time>
        <span className="block text-xs text-slate-500">
          {m.senderName ? `${m.senderName} · ` : ""}
          <code className="font-mono">{m.senderId}</code>
        </span>
        <span className="block text-xs text-slate-400">{m.status.toLowerCase()}</span>
      </th>
      <td className={`${td} min-w-48 wrap-anywhere`}>
        {m.text === null ? <Hidden /> : <p className="whitespace-pre-wrap text-slate-900">{m.text}</p>}
        {m.error && <span className="mt-1 block font-mono text-xs text-red-700">{m.error}</span>}
      </td>
      <td className={`${td} min-w-48 wrap-anywhere`}>
        {m.replies.length === 0 ? (
          <span className="text-slate-400">—</span>
        ) : (
          <ul className="space-y-1">
            {m.replies.map((r) => (
              <li key={r.id}>
                {r.text === null ? <Hidden /> : <p className="whitespace-pre-wrap text-slate-800">{r.text}</p>}
                <span className="block text-xs text-slate-400">
                  {r.status.toLowerCase()} · {r.channel.toLowerCase().replaceAll("_", " ")}
                </span>
              </li>
            ))}
          </ul>
        )}
      </td>
      <td className={`${td} min-w-40`}>
        {m.skills.length === 0 ? (
          <span className="text-slate-400">—</span>
        ) : (
          <ul className="space-y-1 text-xs">
            {m.skills.map((s) => (
              <li key={s.id}>
                <code className="font-mono font-semibold text-slate-800">{s.skillKey}</code>{" "}
                <span className={`rounded px-1.5 py-0.5 ring-1 ${OUTCOME_STYLE[s.outcome] ?? "ring-slate-200"}`}>
                  {OUTCOME_LABEL[s.outcome] ?? s.outcome.toLowerCase()}
                </span>
                {s.reasons.length > 0 && <span className="block text-slate-500">{s.reasons.join(", ")}</span>}
                <span className="block text-slate-400">
                  {s.latencyMs !== null ? `${formatNumber(s.latencyMs)} ms · ` : ""}revision #{s.configRevision}
                  {s.approval ? ` · approval ${s.approval.status.toLowerCase()}` : ""}
                </span>
              </li>
            ))}
          </ul>
        )}
      </td>
      <td className={`${td} text-xs whitespace-nowrap text-slate-600`}>
        <span className="block">{m.model ?? "no model call"}</span>
        <span className="block">
          {formatNumber(m.promptTokens)} + {formatNumber(m.completionTokens)} tokens
        </span>
        {m.latencyMs !== null && <span className="block">{formatNumber(m.latencyMs)} ms</span>}
        {m.configRevision !== null && <span className="block">revision #{m.configRevision}</span>}
        <code className="block font-mono text-[11px] text-slate-400" title="trace id">
          {m.traceId}
        </code>
      </td>
    </tr>
  );
}

/** ADMIN: which roles read texts (ADMIN always does). */
function TextRolesSetting({ current }: { current: Role[] }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const status = useInlineStatus(10_000);
  const [roles, setRoles] = useState<Role[]>(current);
  const save = useMutation(
    trpc.conversationLog.setTextRoles.mutationOptions({
      onSuccess: async (r) => {
        status.success(r.changed ? `Saved: ${r.roles.join(", ")} read message texts.` : "Nothing changed.");
        await qc.invalidateQueries(trpc.conversationLog.pathFilter());
      },
      onError: (e) => status.error(`Could not save: ${e.message}`),
    }),
  );
  return (
    <details className="rounded-lg border border-slate-200 bg-white p-3 text-sm">
      <summary className="cursor-pointer font-semibold text-slate-800">Who reads message texts</summary>
      <form
        className="mt-2 flex flex-wrap items-center gap-3"
        aria-label="Roles that read message texts"
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate({ roles });
        }}
      >
        {ROLES.map((r) => (
          <label key={r} className="flex items-center gap-1">
            <input
              type="checkbox"
              data-mutates
              disabled={r === "ADMIN"}
              checked={r === "ADMIN" || roles.includes(r)}
              onChange={(e) => setRoles(e.target.checked ? [...roles, r] : roles.filter((x) => x !== r))}
            />
            {r}
          </label>
        ))}
        <button type="submit" data-mutates className={btnPrimary} disabled={save.isPending}>
          Save
        </button>
      </form>
      <InlineStatus status={status.current} onDismiss={status.clear} />
    </details>
  );
}

export function ConversationLogView({ id, role, isAdmin }: { id: string; role: Role; isAdmin: boolean }) {
  const trpc = useTRPC();
  const [filters, setFilters] = useState<Filters>({});
  const [draft, setDraft] = useState<Filters>({});
  const [cursors, setCursors] = useState<(string | undefined)[]>([]);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const textRoles = useQuery(trpc.conversationLog.textRoles.queryOptions());
  // One fetch per page view: a view with texts is audited, so no background refetches.
  const { data, error, isPending, isFetching, refetch } = useQuery({
    ...trpc.conversationLog.get.queryOptions(toInput(id, filters, cursor)),
    placeholderData: keepPreviousData,
    staleTime: Infinity,
    refetchOnWindowFocus: false,
    refetchOnReconnect: false,
    retry: false,
  });
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
      {data && (
        <p className="text-sm text-slate-700">
          <span className="font-semibold text-slate-900">{data.conversation.title ?? "Untitled conversation"}</span>{" "}
          <code className="font-mono text-xs text-slate-500">{data.conversation.conversationId}</code>
        </p>
      )}
      {data && !data.textShown && (
        <p role="note" className="rounded-md bg-slate-100 px-3 py-2 text-sm text-slate-700">
          Metadata only: message texts are shown to {data.textRoles.join(", ")}; your role is {role}.
        </p>
      )}
      {isAdmin && textRoles.data && <TextRolesSetting key={textRoles.data.join()} current={textRoles.data} />}
      <form
        aria-label="Filter the conversation log"
        className="flex flex-wrap items-end gap-2 rounded-lg border border-slate-200 bg-white p-3"
        onSubmit={(e) => {
          e.preventDefault();
          if (dateError) return;
          apply({
            user: draft.user?.trim() || undefined,
            skill: draft.skill?.trim() || undefined,
            outcome: draft.outcome || undefined,
            traceId: draft.traceId?.trim() || undefined,
            fromDay: draft.fromDay || undefined,
            toDay: draft.toDay || undefined,
          });
        }}
      >
        <label className={label}>
          Trace id
          <input
            type="search"
            className={`${control} w-56 font-mono`}
            value={draft.traceId ?? ""}
            onChange={(e) => setDraft({ ...draft, traceId: e.target.value })}
            placeholder="find by trace id"
          />
        </label>
        <label className={label}>
          User
          <input
            className={`${control} w-36`}
            value={draft.user ?? ""}
            onChange={(e) => setDraft({ ...draft, user: e.target.value })}
            placeholder="DingTalk user id"
          />
        </label>
        <label className={label}>
          Skill
          <input
            className={`${control} w-36`}
            value={draft.skill ?? ""}
            onChange={(e) => setDraft({ ...draft, skill: e.target.value })}
            placeholder="kb.search"
          />
        </label>
        <label className={label}>
          Outcome
          <select
            className={control}
            value={draft.outcome ?? ""}
            onChange={(e) => setDraft({ ...draft, outcome: (e.target.value || undefined) as Outcome | undefined })}
          >
            <option value="">All</option>
            {OUTCOMES.map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label className={label}>
          From (UTC)
          <input
            type="date"
            className={control}
            value={draft.fromDay ?? ""}
            onChange={(e) => setDraft({ ...draft, fromDay: e.target.value })}
          />
        </label>
        <label className={label}>
          To (UTC)
          <input
            type="date"
            className={control}
            value={draft.toDay ?? ""}
            aria-invalid={!!dateError}
            onChange={(e) => setDraft({ ...draft, toDay: e.target.value })}
          />
        </label>
        <div className="flex gap-2">
          <button type="submit" disabled={!!dateError} className={btnPrimary}>
            Apply filters
          </button>
          {filtered && (
            <button
              type="button"
              className={btnSecondary}
              onClick={() => {
                setDraft({});
                apply({});
              }}
            >
              Clear
            </button>
          )}
        </div>
        {dateError && (
          <p role="alert" className="w-full text-sm text-red-700">
            {dateError}
          </p>
        )}
      </form>

      {isPending ? (
        <LoadingState label="Loading the conversation log…" />
      ) : error && !data ? (
        <ErrorState title="The conversation log could not be loaded." error={error} onRetry={refetch} />
      ) : !data || data.items.length === 0 ? (
        <EmptyState title={filtered ? "No message matches these filters" : "No messages in this conversation yet"} />
      ) : (
        <DataTable
          fetching={isFetching}
          caption="Messages, newest first"
          captionHidden
          columns={["When / from", "Message", "Robot's answer", "Skills", "Model, tokens, trace"]}
          footer={
            <Pagination
              label="Conversation log"
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
          {data.items.map((m) => (
            <Row key={m.id} m={m} />
          ))}
        </DataTable>
      )}
    </div>
  );
}

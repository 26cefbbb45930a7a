"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useId, useState, type FormEvent } from "react";
import { BarChart } from "~/components/ui/bar-chart.tsx";
import { ConfirmDialog } from "~/components/ui/confirm-dialog.tsx";
import { EmptyState, LoadingState } from "~/components/ui/empty-state.tsx";
import { ErrorState } from "~/components/ui/error-state.tsx";
import { formatNumber, plural } from "~/components/ui/format.ts";
import { InlineStatus, useInlineStatus } from "~/components/ui/inline-status.tsx";
import { btnDanger, btnPrimary, btnSecondary } from "~/components/ui/styles.ts";
import { UsageBar } from "~/components/ui/usage-bar.tsx";
import { Wrappable } from "~/components/ui/wrappable.tsx";
import { SubjectInput, useSubjectNames } from "~/components/subject-input.tsx";
import type { AppRouter } from "~/server/api/root.ts";
import { useTRPC } from "~/trpc/react.tsx";
import {
  describedBy,
  errorText,
  Field,
  fieldErrors,
  FormFooter,
  inputCls,
  numberOrNull,
  withErrorText,
} from "../models/form.tsx";

type BudgetList = inferRouterOutputs<AppRouter>["budget"]["list"];
type Budget = BudgetList["budgets"][number];
type Scope = Budget["scope"];
type Status = ReturnType<typeof useInlineStatus>;

const SCOPE_TEXT: Record<Scope, string> = {
  GLOBAL: "The whole organisation",
  DEFAULT: "Each conversation and each user without a budget of its own",
  CONVERSATION: "One conversation",
  USER: "One DingTalk user",
};
const LIMITS = [
  { key: "dailyTokens", label: "Tokens per day" },
  { key: "monthlyTokens", label: "Tokens per month" },
  { key: "maxContextTokens", label: "Max context tokens" },
  { key: "requestsPerMinute", label: "Requests per minute" },
] as const;
const label = (b: { scope: string; subject: string }) => `${b.scope}${b.subject ? ` ${b.subject}` : ""}`;

export function BudgetsView({ canEdit }: { canEdit: boolean }) {
  const trpc = useTRPC();
  const { data, error, isPending, refetch } = useQuery(trpc.budget.list.queryOptions());
  const status = useInlineStatus();
  const [editing, setEditing] = useState<Budget | "new" | null>(null);

  if (isPending) return <LoadingState label="Loading budgets…" />;
  if (error) return <ErrorState title="The budgets could not be loaded." error={error} onRetry={refetch} />;

  const done = (message?: string) => {
    setEditing(null);
    if (message) status.success(message);
  };
  return (
    <div className="space-y-6">
      <InlineStatus status={status.current} onDismiss={status.clear} />
      <section aria-labelledby="daily-heading" className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
        <h2 id="daily-heading" className="text-sm font-semibold text-slate-800">
          Organisation usage, last {data.daily.length} days
        </h2>
        <BarChart
          label="Tokens per day (UTC), organisation"
          data={data.daily.map((d) => ({ label: d.day, value: d.tokens }))}
        />
        <div className="flex justify-between text-xs text-slate-500">
          <span>{data.daily[0]?.day}</span>
          <span>today: {plural(data.daily.at(-1)?.tokens ?? 0, "token")}</span>
        </div>
      </section>

      <section aria-labelledby="budgets-heading" className="space-y-3">
        <div className="flex flex-wrap items-center justify-between gap-2">
          <h2 id="budgets-heading" className="text-lg font-semibold">
            Budgets
          </h2>
          {canEdit && editing === null && (
            <button type="button" data-mutates className={btnPrimary} onClick={() => setEditing("new")}>
              Add budget
            </button>
          )}
        </div>
        {editing !== null && (
          <BudgetForm
            key={editing === "new" ? "new" : editing.id}
            budget={editing === "new" ? null : editing}
            onDone={done}
          />
        )}
        {data.budgets.length === 0 ? (
          <EmptyState title="No budgets">
            Nothing is limited: every conversation and user may use any number of tokens.
          </EmptyState>
        ) : (
          <ul className="grid gap-4 lg:grid-cols-2">
            {data.budgets.map((b) => (
              <BudgetCard key={b.id} budget={b} canEdit={canEdit} status={status} onEdit={() => setEditing(b)} />
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

function BudgetCard({
  budget: b,
  canEdit,
  status,
  onEdit,
}: {
  budget: Budget;
  canEdit: boolean;
  status: Status;
  onEdit: () => void;
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [confirm, setConfirm] = useState(false);
  const remove = useMutation(
    trpc.budget.delete.mutationOptions({
      onSuccess: () => status.success(`Budget ${label(b)} deleted.`),
      onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.budget.pathKey() }),
    }),
  );
  const headingId = useId();
  const nameOf = useSubjectNames();
  const subjectName = b.scope === "USER" || b.scope === "CONVERSATION" ? nameOf(b.scope, b.subject) : null;
  return (
    <li aria-labelledby={headingId} className="space-y-3 rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
      <div className="flex flex-wrap items-start justify-between gap-2">
        <div className="min-w-0">
          <h3 id={headingId} className="font-semibold">
            <span className="mr-2 inline-flex rounded-full bg-slate-100 px-2 py-0.5 text-xs font-semibold text-slate-700 ring-1 ring-slate-500/30 ring-inset">
              {b.scope}
            </span>
            {subjectName && <span className="mr-2">{subjectName}</span>}
            {b.subject && (
              <code className={`font-mono ${subjectName ? "text-sm font-normal text-slate-600" : ""}`}>
                <Wrappable text={b.subject} />
              </code>
            )}
          </h3>
          <p className="text-xs text-slate-500">{SCOPE_TEXT[b.scope]}</p>
        </div>
        {canEdit && (
          <div className="flex gap-2">
            <button
              type="button"
              data-mutates
              className={btnSecondary}
              onClick={onEdit}
              aria-label={`Edit budget ${label(b)}`}
            >
              Edit
            </button>
            <button
              type="button"
              data-mutates
              className={btnDanger}
              onClick={() => setConfirm(true)}
              aria-label={`Delete budget ${label(b)}`}
            >
              Delete
            </button>
          </div>
        )}
      </div>
      <dl className="grid grid-cols-2 gap-x-4 gap-y-1 text-sm sm:grid-cols-4">
        {LIMITS.map((l) => (
          <div key={l.key}>
            <dt className="text-xs text-slate-500">{l.label}</dt>
            <dd className="font-medium tabular-nums">{b[l.key] === null ? "unlimited" : formatNumber(b[l.key]!)}</dd>
          </div>
        ))}
      </dl>
      {b.scope === "DEFAULT" ? (
        <div className="space-y-2">
          <p className="text-xs text-slate-600">Counted for each conversation and user on its own. Heaviest today:</p>
          {b.topToday.length === 0 ? (
            <p className="text-sm text-slate-500">No usage under the default budget today.</p>
          ) : (
            b.topToday.map((t) => (
              <UsageBar
                key={`${t.scope}:${t.subject}`}
                label={`Today · ${t.scope.toLowerCase()} ${nameOf(t.scope === "USER" ? "USER" : "CONVERSATION", t.subject) ?? t.subject}`}
                used={t.used + t.reserved}
                limit={b.dailyTokens}
                unit="tokens"
              />
            ))
          )}
        </div>
      ) : (
        <div className="space-y-2">
          <UsageBar
            label={`Today · ${label(b)}`}
            used={b.day.used + b.day.reserved}
            limit={b.dailyTokens}
            unit="tokens"
          />
          <UsageBar
            label={`This month · ${label(b)}`}
            used={b.month.used + b.month.reserved}
            limit={b.monthlyTokens}
            unit="tokens"
          />
          <p className="text-xs text-slate-500">
            {plural(b.day.requests, "request")} today
            {b.day.reserved > 0 && `, ${plural(b.day.reserved, "token")} reserved by calls in flight`}
          </p>
        </div>
      )}
      {b.routeCount > 0 && (
        <p className="text-xs text-slate-500">
          Named by {b.routeCount} route{b.routeCount === 1 ? "" : "s"}
        </p>
      )}
      {canEdit && (
        <ConfirmDialog
          open={confirm}
          onOpenChange={setConfirm}
          variant="danger"
          title={`Delete budget ${label(b)}?`}
          description={
            b.scope === "GLOBAL"
              ? "The organisation will have no overall token limit."
              : b.scope === "DEFAULT"
                ? "Conversations and users without a budget of their own will be unlimited."
                : "This subject falls back to the DEFAULT budget, if there is one."
          }
          confirmLabel="Delete budget"
          onConfirm={() => withErrorText(() => remove.mutateAsync({ id: b.id }))}
        />
      )}
    </li>
  );
}

function BudgetForm({ budget, onDone }: { budget: Budget | null; onDone: (message?: string) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const id = useId();
  const [scope, setScope] = useState<Scope>(budget?.scope ?? "CONVERSATION");
  const [subject, setSubject] = useState(budget?.subject ?? "");
  const [limits, setLimits] = useState<Record<(typeof LIMITS)[number]["key"], string>>({
    dailyTokens: budget?.dailyTokens?.toString() ?? "",
    monthlyTokens: budget?.monthlyTokens?.toString() ?? "",
    maxContextTokens: budget?.maxContextTokens?.toString() ?? "",
    requestsPerMinute: budget?.requestsPerMinute?.toString() ?? "",
  });
  const onSettled = () => queryClient.invalidateQueries({ queryKey: trpc.budget.pathKey() });
  const create = useMutation(
    trpc.budget.create.mutationOptions({ onSuccess: () => onDone("Budget added."), onSettled }),
  );
  const update = useMutation(
    trpc.budget.update.mutationOptions({
      onSuccess: () => onDone(`Budget ${budget && label(budget)} saved.`),
      onSettled,
    }),
  );
  const active = budget ? update : create;
  const errors = fieldErrors(active.error);
  const hasSubject = scope === "CONVERSATION" || scope === "USER";

  function submit(ev: FormEvent) {
    ev.preventDefault();
    const values = {
      dailyTokens: numberOrNull(limits.dailyTokens),
      monthlyTokens: numberOrNull(limits.monthlyTokens),
      maxContextTokens: numberOrNull(limits.maxContextTokens),
      requestsPerMinute: numberOrNull(limits.requestsPerMinute),
    };
    if (budget) update.mutate({ id: budget.id, ...values });
    else create.mutate({ scope, subject: hasSubject ? subject : "", ...values });
  }

  return (
    <form
      onSubmit={submit}
      aria-labelledby={`${id}-title`}
      className="space-y-4 rounded-lg border border-slate-200 bg-white p-4 shadow-sm"
    >
      <h3 id={`${id}-title`} className="font-semibold">
        {budget ? `Edit budget ${label(budget)}` : "New budget"}
      </h3>
      <div className="grid gap-4 sm:grid-cols-2">
        <Field id={`${id}-scope`} label="Scope" error={errors.scope} hint={SCOPE_TEXT[scope]}>
          <select
            id={`${id}-scope`}
            value={scope}
            onChange={(e) => setScope(e.target.value as Scope)}
            disabled={!!budget}
            className={inputCls}
            {...describedBy(`${id}-scope`, errors.scope, true)}
          >
            <option value="GLOBAL">GLOBAL</option>
            <option value="DEFAULT">DEFAULT</option>
            <option value="CONVERSATION">CONVERSATION</option>
            <option value="USER">USER</option>
          </select>
        </Field>
        <Field
          id={`${id}-subject`}
          label={scope === "USER" ? "DingTalk user id" : "DingTalk conversationId"}
          error={errors.subject}
          hint={hasSubject ? undefined : "Not used for this scope"}
        >
          {hasSubject && !budget ? (
            <SubjectInput
              kind={scope === "USER" ? "USER" : "CONVERSATION"}
              id={`${id}-subject`}
              value={subject}
              onChange={setSubject}
              required
              placeholder={scope === "USER" ? "name or staffId" : "name or cid-…"}
              className={`${inputCls} font-mono`}
              describedBy={describedBy(`${id}-subject`, errors.subject, false)["aria-describedby"]}
              invalid={!!errors.subject}
            />
          ) : (
            <input
              id={`${id}-subject`}
              value={hasSubject ? subject : ""}
              disabled
              className={`${inputCls} font-mono`}
              {...describedBy(`${id}-subject`, errors.subject, !hasSubject)}
            />
          )}
        </Field>
        {LIMITS.map((l) => (
          <Field key={l.key} id={`${id}-${l.key}`} label={l.label} error={errors[l.key]} hint="Empty = unlimited">
            <input
              id={`${id}-${l.key}`}
              type="number"
              inputMode="numeric"
              min={1}
              step={1}
              value={limits[l.key]}
              onChange={(e) => setLimits((s) => ({ ...s, [l.key]: e.target.value }))}
              placeholder="unlimited"
              className={inputCls}
              {...describedBy(`${id}-${l.key}`, errors[l.key], true)}
            />
          </Field>
        ))}
      </div>
      <FormFooter
        error={active.error && errorText(active.error)}
        saving={active.isPending}
        submitLabel={budget ? "Save budget" : "Add budget"}
        onCancel={() => onDone()}
      />
    </form>
  );
}

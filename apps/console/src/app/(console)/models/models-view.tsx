"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useId, useState, type FormEvent } from "react";
import { ConfirmDialog } from "~/components/ui/confirm-dialog.tsx";
import { EmptyState, LoadingState } from "~/components/ui/empty-state.tsx";
import { ErrorState } from "~/components/ui/error-state.tsx";
import { formatNumber } from "~/components/ui/format.ts";
import { InlineStatus, useInlineStatus } from "~/components/ui/inline-status.tsx";
import { btnDanger, btnPrimary, btnSecondary } from "~/components/ui/styles.ts";
import { DataTable, td } from "~/components/ui/table.tsx";
import { Wrappable } from "~/components/ui/wrappable.tsx";
import type { AppRouter } from "~/server/api/root.ts";
import { useTRPC } from "~/trpc/react.tsx";
import { describedBy, errorText, Field, fieldErrors, FormFooter, inputCls, withErrorText } from "./form.tsx";

type ModelList = inferRouterOutputs<AppRouter>["model"]["list"];
type Endpoint = ModelList["endpoints"][number];
type ConversationRoute = ModelList["conversationRoutes"][number];

const budgetName = (b: { scope: string; subject: string } | null) =>
  b ? `${b.scope}${b.subject ? ` ${b.subject}` : ""}` : "none";

function useModelMutations() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const invalidate = () => queryClient.invalidateQueries({ queryKey: trpc.model.pathKey() });
  return { trpc, queryClient, invalidate };
}

export function ModelsView({ canEdit }: { canEdit: boolean }) {
  const trpc = useTRPC();
  const { data, error, isPending, refetch } = useQuery(trpc.model.list.queryOptions());
  const status = useInlineStatus();

  if (isPending) return <LoadingState label="Loading models…" />;
  if (error) return <ErrorState title="The models could not be loaded." error={error} onRetry={refetch} />;

  return (
    <div className="space-y-8">
      <InlineStatus status={status.current} onDismiss={status.clear} />
      <EndpointsSection data={data} canEdit={canEdit} status={status} />
      <RoutesSection data={data} canEdit={canEdit} status={status} />
    </div>
  );
}

type Status = ReturnType<typeof useInlineStatus>;

// --- Endpoints -----------------------------------------------------------------------------

function EndpointsSection({ data, canEdit, status }: { data: ModelList; canEdit: boolean; status: Status }) {
  const [editing, setEditing] = useState<Endpoint | "new" | null>(null);
  return (
    <section aria-labelledby="endpoints-heading" className="space-y-3">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h2 id="endpoints-heading" className="text-lg font-semibold">
          Model endpoints
        </h2>
        {canEdit && editing === null && (
          <button type="button" data-mutates className={btnPrimary} onClick={() => setEditing("new")}>
            Add endpoint
          </button>
        )}
      </div>
      {editing !== null && (
        <EndpointForm
          key={editing === "new" ? "new" : editing.id}
          endpoint={editing === "new" ? null : editing}
          onDone={(message) => {
            setEditing(null);
            if (message) status.success(message);
          }}
        />
      )}
      {data.endpoints.length === 0 ? (
        <EmptyState title="No model endpoints yet">
          Add one here, or run <code>clawgate onboard</code> with a config file. Until one exists the robot cannot
          answer.
        </EmptyState>
      ) : (
        <DataTable
          caption="Model endpoints"
          captionHidden
          columns={["Endpoint", "Base URL", "API key", "Status", canEdit && <span className="sr-only">Actions</span>]}
        >
          {data.endpoints.map((e) => (
            <EndpointRow key={e.id} endpoint={e} canEdit={canEdit} status={status} onEdit={() => setEditing(e)} />
          ))}
        </DataTable>
      )}
    </section>
  );
}

function EndpointRow({
  endpoint: e,
  canEdit,
  status,
  onEdit,
}: {
  endpoint: Endpoint;
  canEdit: boolean;
  status: Status;
  onEdit: () => void;
}) {
  const { trpc, queryClient, invalidate } = useModelMutations();
  const [confirm, setConfirm] = useState<"disable" | "delete" | null>(null);
  const key = trpc.model.list.queryKey();

  // Optimistic toggle: the row flips at once and flips back if the server refuses.
  const toggle = useMutation(
    trpc.model.updateEndpoint.mutationOptions({
      onMutate: async (input) => {
        await queryClient.cancelQueries({ queryKey: key });
        const previous = queryClient.getQueryData(key);
        queryClient.setQueryData(
          key,
          (old) =>
            old && {
              ...old,
              endpoints: old.endpoints.map((x) => (x.id === input.id ? { ...x, enabled: !!input.enabled } : x)),
            },
        );
        return { previous };
      },
      onError: (err, _input, context) => {
        if (context?.previous) queryClient.setQueryData(key, context.previous);
        status.error(errorText(err));
      },
      onSuccess: (_r, input) => status.success(`${e.name} ${input.enabled ? "enabled" : "disabled"}.`),
      onSettled: invalidate,
    }),
  );
  const remove = useMutation(
    trpc.model.deleteEndpoint.mutationOptions({
      onSuccess: () => status.success(`${e.name} deleted.`),
      onSettled: invalidate,
    }),
  );

  return (
    <tr className="hover:bg-slate-50">
      <th scope="row" className={`${td} min-w-48 text-left font-normal`}>
        <code className="font-mono font-semibold text-slate-900">{e.name}</code>
        {e.isDefault && (
          <span className="ml-2 inline-flex whitespace-nowrap rounded-full bg-indigo-50 px-2 py-0.5 text-xs font-semibold text-indigo-800 ring-1 ring-indigo-600/30 ring-inset">
            default route
          </span>
        )}
        <p className="mt-0.5 text-slate-600">
          model <code className="font-mono">{e.model}</code>
        </p>
        <p className="text-xs text-slate-500 tabular-nums">
          timeout {formatNumber(e.timeoutMs)} ms · max {e.maxConcurrency} at once
        </p>
      </th>
      <td className={`${td} min-w-48 max-w-72 text-slate-700`}>
        <Wrappable text={e.baseUrl} />
      </td>
      <td className={td}>
        {e.apiKeyEnv ? (
          <code className="rounded bg-slate-100 px-1 font-mono text-slate-800">
            <Wrappable text={`\${${e.apiKeyEnv}}`} />
          </code>
        ) : (
          <span className="text-slate-500">none</span>
        )}
      </td>
      <td className={`${td} whitespace-nowrap`}>
        <span className={`inline-flex items-center gap-1.5 ${e.enabled ? "text-slate-900" : "text-slate-500"}`}>
          <span aria-hidden className={`size-2 rounded-full ${e.enabled ? "bg-emerald-500" : "bg-slate-300"}`} />
          {e.enabled ? "Enabled" : "Disabled"}
        </span>
        <p className="text-xs text-slate-500">
          {e.routeCount} route{e.routeCount === 1 ? "" : "s"}
        </p>
      </td>
      {canEdit && (
        <td className={`${td} whitespace-nowrap`}>
          <div className="flex gap-2">
            <button type="button" data-mutates className={btnSecondary} onClick={onEdit} aria-label={`Edit ${e.name}`}>
              Edit
            </button>
            <button
              type="button"
              data-mutates
              className={btnSecondary}
              disabled={toggle.isPending}
              aria-label={`${e.enabled ? "Disable" : "Enable"} ${e.name}`}
              onClick={() => (e.enabled ? setConfirm("disable") : toggle.mutate({ id: e.id, enabled: true }))}
            >
              {e.enabled ? "Disable" : "Enable"}
            </button>
            <button
              type="button"
              data-mutates
              className={btnDanger}
              onClick={() => setConfirm("delete")}
              aria-label={`Delete ${e.name}`}
            >
              Delete
            </button>
          </div>
          <ConfirmDialog
            open={confirm === "disable"}
            onOpenChange={(open) => !open && setConfirm(null)}
            variant="danger"
            title={`Disable ${e.name}?`}
            description={`Conversations routed to ${e.name} fall back to the default route at the runtime's next config reload.`}
            confirmLabel="Disable"
            onConfirm={() => {
              // The dialog closes at once; the optimistic row shows the change and rolls back on refusal.
              toggle.mutate({ id: e.id, enabled: false });
            }}
          />
          <ConfirmDialog
            open={confirm === "delete"}
            onOpenChange={(open) => !open && setConfirm(null)}
            variant="danger"
            title={`Delete ${e.name}?`}
            description="The endpoint is removed from the configuration. This cannot be undone (the audit log keeps its settings)."
            confirmLabel="Delete"
            confirmText={e.name}
            onConfirm={() => withErrorText(() => remove.mutateAsync({ id: e.id }))}
          />
        </td>
      )}
    </tr>
  );
}

function EndpointForm({ endpoint, onDone }: { endpoint: Endpoint | null; onDone: (message?: string) => void }) {
  const { trpc, invalidate } = useModelMutations();
  const id = useId();
  const [name, setName] = useState(endpoint?.name ?? "");
  const [baseUrl, setBaseUrl] = useState(endpoint?.baseUrl ?? "");
  const [model, setModel] = useState(endpoint?.model ?? "");
  const [apiKeyEnv, setApiKeyEnv] = useState(endpoint?.apiKeyEnv ?? "");
  const [timeoutMs, setTimeoutMs] = useState(String(endpoint?.timeoutMs ?? 30_000));
  const [maxConcurrency, setMaxConcurrency] = useState(String(endpoint?.maxConcurrency ?? 8));
  const [enabled, setEnabled] = useState(endpoint?.enabled ?? true);

  const create = useMutation(
    trpc.model.createEndpoint.mutationOptions({
      onSuccess: () => onDone(`${name.trim()} added.`),
      onSettled: invalidate,
    }),
  );
  const update = useMutation(
    trpc.model.updateEndpoint.mutationOptions({
      onSuccess: () => onDone(`${endpoint?.name} saved.`),
      onSettled: invalidate,
    }),
  );
  const active = endpoint ? update : create;
  const errors = fieldErrors(active.error);
  const hasFieldErrors = Object.values(errors).some(Boolean);

  function submit(ev: FormEvent) {
    ev.preventDefault();
    const fields = {
      baseUrl: baseUrl.trim(),
      model,
      apiKeyEnv,
      timeoutMs: Number(timeoutMs),
      maxConcurrency: Number(maxConcurrency),
      enabled,
    };
    if (endpoint) update.mutate({ id: endpoint.id, ...fields });
    else create.mutate({ name, ...fields });
  }

  const f = (k: string) => `${id}-${k}`;
  return (
    <form
      onSubmit={submit}
      aria-labelledby={f("title")}
      className="space-y-4 rounded-lg border border-slate-200 bg-white p-4 shadow-sm"
    >
      <h3 id={f("title")} className="font-semibold">
        {endpoint ? `Edit ${endpoint.name}` : "New model endpoint"}
      </h3>
      <div className="grid gap-4 sm:grid-cols-2">
        <Field
          id={f("name")}
          label="Name"
          error={errors.name}
          hint={
            endpoint
              ? "The name cannot change (leases and config files use it)."
              : "Letters, digits, _ . - ; e.g. local_chat"
          }
        >
          <input
            id={f("name")}
            value={name}
            onChange={(e) => setName(e.target.value)}
            disabled={!!endpoint}
            required
            className={inputCls}
            {...describedBy(f("name"), errors.name, true)}
          />
        </Field>
        <Field
          id={f("baseUrl")}
          label="Base URL"
          error={errors.baseUrl}
          hint="OpenAI-compatible, e.g. http://127.0.0.1:3300/v1"
        >
          <input
            id={f("baseUrl")}
            type="url"
            value={baseUrl}
            onChange={(e) => setBaseUrl(e.target.value)}
            required
            className={inputCls}
            {...describedBy(f("baseUrl"), errors.baseUrl, true)}
          />
        </Field>
        <Field id={f("model")} label="Model" error={errors.model}>
          <input
            id={f("model")}
            value={model}
            onChange={(e) => setModel(e.target.value)}
            required
            className={inputCls}
            {...describedBy(f("model"), errors.model)}
          />
        </Field>
        <Field
          id={f("apiKeyEnv")}
          label="API key env var"
          error={errors.apiKeyEnv}
          hint={
            apiKeyEnv.trim() ? (
              <>
                The runtime reads the key from <code>{`\${${apiKeyEnv.trim().replace(/^\$\{|\}$/g, "")}}`}</code>. Never
                paste the key itself.
              </>
            ) : (
              "Empty: no key. The name of an env var (e.g. GPU_CHAT_API_KEY: it must match SECRET_ENV_ALLOWLIST, default *_API_KEY), never the key. Clawgate's own settings (DATABASE_URL, DINGTALK_*, ...) are refused."
            )
          }
        >
          <input
            id={f("apiKeyEnv")}
            value={apiKeyEnv}
            onChange={(e) => setApiKeyEnv(e.target.value)}
            autoComplete="off"
            spellCheck={false}
            placeholder="LOCAL_MODEL_API_KEY"
            className={`${inputCls} font-mono`}
            {...describedBy(f("apiKeyEnv"), errors.apiKeyEnv, true)}
          />
        </Field>
        <Field id={f("timeoutMs")} label="Timeout (ms)" error={errors.timeoutMs} hint="100 to 600000">
          <input
            id={f("timeoutMs")}
            type="number"
            inputMode="numeric"
            value={timeoutMs}
            onChange={(e) => setTimeoutMs(e.target.value)}
            required
            className={inputCls}
            {...describedBy(f("timeoutMs"), errors.timeoutMs, true)}
          />
        </Field>
        <Field
          id={f("maxConcurrency")}
          label="Max concurrent calls"
          error={errors.maxConcurrency}
          hint="Across all runtime replicas; 1 to 1000"
        >
          <input
            id={f("maxConcurrency")}
            type="number"
            inputMode="numeric"
            value={maxConcurrency}
            onChange={(e) => setMaxConcurrency(e.target.value)}
            required
            className={inputCls}
            {...describedBy(f("maxConcurrency"), errors.maxConcurrency, true)}
          />
        </Field>
      </div>
      <label className="flex items-center gap-2 text-sm">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} className="size-4" />
        Enabled
      </label>
      <FormFooter
        error={active.error && (hasFieldErrors ? "Not saved: check the fields marked above." : errorText(active.error))}
        saving={active.isPending}
        submitLabel={endpoint ? "Save endpoint" : "Add endpoint"}
        onCancel={() => onDone()}
      />
    </form>
  );
}

// --- Routes --------------------------------------------------------------------------------

function RoutesSection({ data, canEdit, status }: { data: ModelList; canEdit: boolean; status: Status }) {
  const [editing, setEditing] = useState<ConversationRoute | "new" | null>(null);
  const routed = new Set(data.conversationRoutes.map((r) => r.conversationId));
  return (
    <section aria-labelledby="routes-heading" className="space-y-3">
      <h2 id="routes-heading" className="text-lg font-semibold">
        Routes
      </h2>
      <DefaultRoute data={data} canEdit={canEdit} status={status} />

      <div className="flex flex-wrap items-center justify-between gap-2 pt-2">
        <h3 className="font-semibold">Per-conversation routes</h3>
        {canEdit && editing === null && (
          <button type="button" data-mutates className={btnPrimary} onClick={() => setEditing("new")}>
            Add route
          </button>
        )}
      </div>
      {editing !== null && (
        <RouteForm
          key={editing === "new" ? "new" : editing.id}
          data={data}
          route={editing === "new" ? null : editing}
          conversations={editing === "new" ? data.conversations.filter((c) => !routed.has(c.id)) : data.conversations}
          onDone={(message) => {
            setEditing(null);
            if (message) status.success(message);
          }}
        />
      )}
      {data.conversationRoutes.length === 0 ? (
        <EmptyState title="No per-conversation routes">Every conversation uses the default route.</EmptyState>
      ) : (
        <DataTable
          caption="Per-conversation routes"
          captionHidden
          columns={[
            "Conversation",
            "Endpoint",
            "Tool rounds",
            "Budget",
            canEdit && <span className="sr-only">Actions</span>,
          ]}
        >
          {data.conversationRoutes.map((r) => (
            <RouteRow key={r.id} route={r} canEdit={canEdit} status={status} onEdit={() => setEditing(r)} />
          ))}
        </DataTable>
      )}
    </section>
  );
}

function RouteRow({
  route: r,
  canEdit,
  status,
  onEdit,
}: {
  route: ConversationRoute;
  canEdit: boolean;
  status: Status;
  onEdit: () => void;
}) {
  const { trpc, invalidate } = useModelMutations();
  const [confirm, setConfirm] = useState(false);
  const label = r.conversation?.title ?? r.conversation?.conversationId ?? "?";
  const remove = useMutation(
    trpc.model.deleteRoute.mutationOptions({
      onSuccess: () => status.success(`Route for ${label} deleted.`),
      onSettled: invalidate,
    }),
  );
  return (
    <tr className="hover:bg-slate-50">
      <th scope="row" className={`${td} min-w-48 text-left font-normal`}>
        <span className="font-medium text-slate-900">{label}</span>
        <p className="font-mono text-xs text-slate-500">{r.conversation?.conversationId}</p>
      </th>
      <td className={`${td} whitespace-nowrap`}>
        <code className="font-mono">{r.modelEndpoint.name}</code>
        {!r.modelEndpoint.enabled && (
          <p className="text-xs text-amber-700">endpoint disabled: uses the default route</p>
        )}
      </td>
      <td className={`${td} tabular-nums`}>{r.maxToolRounds}</td>
      <td className={`${td} whitespace-nowrap text-slate-700`}>{budgetName(r.budget)}</td>
      {canEdit && (
        <td className={`${td} whitespace-nowrap`}>
          <div className="flex gap-2">
            <button
              type="button"
              data-mutates
              className={btnSecondary}
              onClick={onEdit}
              aria-label={`Edit route for ${label}`}
            >
              Edit
            </button>
            <button
              type="button"
              data-mutates
              className={btnDanger}
              onClick={() => setConfirm(true)}
              aria-label={`Delete route for ${label}`}
            >
              Delete
            </button>
          </div>
          <ConfirmDialog
            open={confirm}
            onOpenChange={setConfirm}
            variant="danger"
            title={`Delete the route for ${label}?`}
            description="The conversation falls back to the default route at the runtime's next config reload."
            confirmLabel="Delete route"
            onConfirm={() => withErrorText(() => remove.mutateAsync({ id: r.id }))}
          />
        </td>
      )}
    </tr>
  );
}

function DefaultRoute({ data, canEdit, status }: { data: ModelList; canEdit: boolean; status: Status }) {
  const { trpc, invalidate } = useModelMutations();
  const id = useId();
  const current = data.defaultRoute;
  const [endpointId, setEndpointId] = useState(current?.modelEndpointId ?? "");
  const [rounds, setRounds] = useState(String(current?.maxToolRounds ?? 4));
  const [budgetId, setBudgetId] = useState(current?.budgetId ?? "");
  const save = useMutation(
    trpc.model.setRoute.mutationOptions({
      onSuccess: () => status.success("Default route saved."),
      onSettled: invalidate,
    }),
  );
  const errors = fieldErrors(save.error);

  if (!canEdit) {
    return (
      <div className="rounded-lg border border-slate-200 bg-white p-4 text-sm shadow-sm">
        <h3 className="font-semibold">Default route</h3>
        {current ? (
          <p className="mt-1 text-slate-700">
            <code className="font-mono">{current.modelEndpoint.name}</code>, up to {current.maxToolRounds} tool rounds,
            budget {budgetName(current.budget)}
          </p>
        ) : (
          <p className="mt-1 text-amber-800">No default route: conversations without their own route get no answer.</p>
        )}
      </div>
    );
  }
  return (
    <form
      aria-labelledby={`${id}-title`}
      className="space-y-3 rounded-lg border border-slate-200 bg-white p-4 shadow-sm"
      onSubmit={(ev) => {
        ev.preventDefault();
        save.mutate({
          conversationId: null,
          modelEndpointId: endpointId,
          maxToolRounds: Number(rounds),
          budgetId: budgetId || null,
        });
      }}
    >
      <h3 id={`${id}-title`} className="font-semibold">
        Default route
      </h3>
      <p className="text-sm text-slate-600">
        Every conversation without a route of its own.{!current && " None is set: those conversations get no answer."}
      </p>
      <RouteFields
        id={id}
        data={data}
        endpointId={endpointId}
        setEndpointId={setEndpointId}
        rounds={rounds}
        setRounds={setRounds}
        budgetId={budgetId}
        setBudgetId={setBudgetId}
        errors={errors}
      />
      <FormFooter
        error={save.error && errorText(save.error)}
        saving={save.isPending}
        disabled={!endpointId}
        submitLabel="Save default route"
      />
    </form>
  );
}

function RouteFields(props: {
  id: string;
  data: ModelList;
  endpointId: string;
  setEndpointId: (v: string) => void;
  rounds: string;
  setRounds: (v: string) => void;
  budgetId: string;
  setBudgetId: (v: string) => void;
  errors: Record<string, string | undefined>;
}) {
  const { id, data, errors } = props;
  return (
    <div className="grid gap-4 sm:grid-cols-3">
      <Field id={`${id}-endpoint`} label="Endpoint" error={errors.modelEndpointId}>
        <select
          id={`${id}-endpoint`}
          value={props.endpointId}
          onChange={(e) => props.setEndpointId(e.target.value)}
          required
          className={inputCls}
        >
          <option value="">Choose an endpoint…</option>
          {data.endpoints.map((e) => (
            <option key={e.id} value={e.id} disabled={!e.enabled}>
              {e.name}
              {e.enabled ? "" : " (disabled)"}
            </option>
          ))}
        </select>
      </Field>
      <Field
        id={`${id}-rounds`}
        label="Max tool rounds"
        error={errors.maxToolRounds}
        hint="0 to 20 model ↔ skill round trips per turn"
      >
        <input
          id={`${id}-rounds`}
          type="number"
          inputMode="numeric"
          value={props.rounds}
          onChange={(e) => props.setRounds(e.target.value)}
          required
          className={inputCls}
          {...describedBy(`${id}-rounds`, errors.maxToolRounds, true)}
        />
      </Field>
      <Field id={`${id}-budget`} label="Budget (optional)" error={errors.budgetId}>
        <select
          id={`${id}-budget`}
          value={props.budgetId}
          onChange={(e) => props.setBudgetId(e.target.value)}
          className={inputCls}
        >
          <option value="">None</option>
          {data.budgets.map((b) => (
            <option key={b.id} value={b.id}>
              {budgetName(b)}
            </option>
          ))}
        </select>
      </Field>
    </div>
  );
}

function RouteForm({
  data,
  route,
  conversations,
  onDone,
}: {
  data: ModelList;
  route: ConversationRoute | null;
  conversations: ModelList["conversations"];
  onDone: (message?: string) => void;
}) {
  const { trpc, invalidate } = useModelMutations();
  const id = useId();
  const [conversationId, setConversationId] = useState(route?.conversationId ?? "");
  const [endpointId, setEndpointId] = useState(route?.modelEndpointId ?? "");
  const [rounds, setRounds] = useState(String(route?.maxToolRounds ?? 4));
  const [budgetId, setBudgetId] = useState(route?.budgetId ?? "");
  const save = useMutation(
    trpc.model.setRoute.mutationOptions({ onSuccess: () => onDone("Route saved."), onSettled: invalidate }),
  );
  const errors = fieldErrors(save.error);
  return (
    <form
      aria-labelledby={`${id}-title`}
      className="space-y-3 rounded-lg border border-slate-200 bg-white p-4 shadow-sm"
      onSubmit={(ev) => {
        ev.preventDefault();
        save.mutate({
          conversationId,
          modelEndpointId: endpointId,
          maxToolRounds: Number(rounds),
          budgetId: budgetId || null,
        });
      }}
    >
      <h3 id={`${id}-title`} className="font-semibold">
        {route ? `Route for ${route.conversation?.title ?? route.conversation?.conversationId}` : "New route"}
      </h3>
      <Field id={`${id}-conversation`} label="Conversation" error={errors.conversationId}>
        <select
          id={`${id}-conversation`}
          value={conversationId}
          onChange={(e) => setConversationId(e.target.value)}
          disabled={!!route}
          required
          className={inputCls}
        >
          <option value="">
            {conversations.length === 0 ? "Every conversation has a route" : "Choose a conversation…"}
          </option>
          {conversations.map((c) => (
            <option key={c.id} value={c.id}>
              {c.title ? `${c.title} (${c.conversationId})` : c.conversationId}
            </option>
          ))}
        </select>
      </Field>
      <RouteFields
        id={id}
        data={data}
        endpointId={endpointId}
        setEndpointId={setEndpointId}
        rounds={rounds}
        setRounds={setRounds}
        budgetId={budgetId}
        setBudgetId={setBudgetId}
        errors={errors}
      />
      <FormFooter
        error={save.error && errorText(save.error)}
        saving={save.isPending}
        disabled={!conversationId || !endpointId}
        submitLabel="Save route"
        onCancel={() => onDone()}
      />
    </form>
  );
}

"use client";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { RoleBadge } from "~/components/badges.tsx";
import { ConfirmDialog } from "~/components/ui/confirm-dialog.tsx";
import { EmptyState, LoadingState } from "~/components/ui/empty-state.tsx";
import { ErrorState } from "~/components/ui/error-state.tsx";
import { formatDateTime } from "~/components/ui/format.ts";
import { InlineStatus, useInlineStatus } from "~/components/ui/inline-status.tsx";
import { Pagination } from "~/components/ui/pagination.tsx";
import { btnDanger, btnSecondary, control } from "~/components/ui/styles.ts";
import { DataTable, td } from "~/components/ui/table.tsx";
import type { UserListItem } from "~/server/api/routers/user.ts";
import { useTRPC } from "~/trpc/react.tsx";
import { AddUserForm } from "./add-user-form.tsx";
import { INITIAL_USER_FILTERS, type UserFilters } from "./filters.ts";

type Role = UserListItem["role"];
const ROLES: Role[] = ["ADMIN", "APPROVER", "OPERATOR", "VIEWER"];
const ROLE_HELP: Record<Role, string> = {
  ADMIN: "everything",
  APPROVER: "approves write actions",
  OPERATOR: "safe mode and conversations",
  VIEWER: "reads only",
};

/** Same rule as core's isDemotion: losing any right ends the user's sessions. */
function isDemotion(from: Role, to: Role) {
  return from !== to && to !== "ADMIN" && from !== "VIEWER";
}

type Filters = UserFilters;

type Pending = { kind: "role"; user: UserListItem; role: Role } | { kind: "disable"; user: UserListItem };

const who = (u: UserListItem) => u.name ?? u.email ?? u.id;

export function UsersTable({ canEdit, selfId }: { canEdit: boolean; selfId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const status = useInlineStatus();
  const [filters, setFilters] = useState<Filters>(INITIAL_USER_FILTERS);
  const [searchText, setSearchText] = useState("");
  // A demotion or disable waiting for confirmation (the role select shows the choice meanwhile).
  const [pending, setPending] = useState<Pending | null>(null);
  const { data, error, isPending, isFetching, refetch } = useQuery({
    ...trpc.user.list.queryOptions(filters),
    placeholderData: keepPreviousData,
  });

  const listKey = trpc.user.list.pathKey();
  const done = {
    onSettled: () => queryClient.invalidateQueries({ queryKey: listKey }),
    onError: (e: { message: string }) => status.error(`Not saved: ${e.message}`),
  };
  const setRole = useMutation(
    trpc.user.setRole.mutationOptions({
      ...done,
      onSuccess: (r) => status.success(`Saved: ${r.summary}.`),
    }),
  );
  const setDisabled = useMutation(
    trpc.user.setDisabled.mutationOptions({
      ...done,
      onSuccess: (r) => status.success(`Saved: ${r.summary}.`),
    }),
  );

  const setFilter = (patch: Partial<Filters>) => setFilters((f) => ({ ...f, ...patch, page: 1 }));

  function chooseRole(user: UserListItem, role: Role) {
    if (role === user.role) return;
    if (isDemotion(user.role, role)) setPending({ kind: "role", user, role });
    else setRole.mutate({ userId: user.id, role });
  }

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-end gap-2">
        <form
          role="search"
          className="flex items-end gap-2"
          onSubmit={(e) => {
            e.preventDefault();
            setFilter({ search: searchText.trim() || undefined });
          }}
        >
          <label className="flex flex-col text-xs font-medium text-slate-600">
            Search by name or email
            <input
              type="search"
              className={`${control} mt-1 w-56`}
              value={searchText}
              onChange={(e) => setSearchText(e.target.value)}
            />
          </label>
          <button
            type="submit"
            className="rounded-md bg-white px-3 py-1.5 text-sm font-semibold ring-1 ring-slate-300 hover:bg-slate-100"
          >
            Search
          </button>
        </form>
        <label className="flex flex-col text-xs font-medium text-slate-600">
          Role
          <select
            className={`${control} mt-1`}
            value={filters.role ?? ""}
            onChange={(e) => setFilter({ role: (e.target.value || undefined) as Role | undefined })}
          >
            <option value="">All roles</option>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
      </div>

      <p className="text-xs text-slate-600">
        {ROLES.map((r, i) => (
          <span key={r}>
            {i > 0 && " · "}
            <strong className="font-semibold">{r}</strong>: {ROLE_HELP[r]}
          </span>
        ))}
      </p>

      {canEdit && <AddUserForm status={status} />}

      <InlineStatus status={status.current} onDismiss={status.clear} />

      {isPending ? (
        <LoadingState label="Loading users…" />
      ) : error && !data ? (
        <ErrorState title="The users could not be loaded." error={error} onRetry={refetch} />
      ) : !data || data.items.length === 0 ? (
        <EmptyState title={filters.search || filters.role ? "No user matches these filters" : "No users yet"}>
          {!(filters.search || filters.role) &&
            "People appear here after their first SSO sign-in, or when an admin adds them."}
        </EmptyState>
      ) : (
        <DataTable
          fetching={isFetching}
          caption={
            <>
              {data.total} user{data.total === 1 ? "" : "s"}
              {!canEdit && " (only admins change roles)"}
            </>
          }
          columns={["User", "Role", "Last sign-in", "Status", canEdit && "Actions"]}
          footer={
            <Pagination
              label="Users"
              page={filters.page}
              pageCount={Math.ceil(data.total / filters.pageSize)}
              onPage={(page) => setFilters((f) => ({ ...f, page }))}
            />
          }
        >
          {data.items.map((u) => {
            const self = u.id === selfId;
            return (
              <tr key={u.id} className={u.disabledAt ? "bg-slate-50 text-slate-500" : "hover:bg-slate-50"}>
                <th scope="row" className={`${td} min-w-56 text-left font-normal`}>
                  <span className="font-semibold text-slate-900">{u.name ?? "(no name)"}</span>
                  {self && <span className="ml-1.5 text-xs text-slate-500">(you)</span>}
                  <span className="block text-slate-600">{u.email}</span>
                </th>
                <td className={td}>
                  {canEdit && !u.disabledAt ? (
                    <select
                      data-mutates
                      aria-label={`Role of ${who(u)}`}
                      className={control}
                      value={pending?.kind === "role" && pending.user.id === u.id ? pending.role : u.role}
                      // Your own role: only promotion makes sense, and you are already ADMIN.
                      disabled={self || (setRole.isPending && setRole.variables?.userId === u.id)}
                      title={self ? "You cannot change your own role" : undefined}
                      onChange={(e) => chooseRole(u, e.target.value as Role)}
                    >
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                    </select>
                  ) : (
                    <RoleBadge role={u.role} />
                  )}
                </td>
                <td className={`${td} whitespace-nowrap`}>{formatDateTime(u.lastSignInAt)}</td>
                <td className={`${td} whitespace-nowrap`}>
                  {u.disabledAt ? (
                    <span className="font-medium text-red-700">Disabled {formatDateTime(u.disabledAt)}</span>
                  ) : (
                    <span>
                      Active
                      <span className="text-slate-500">
                        {" "}
                        · {u.activeSessions} session{u.activeSessions === 1 ? "" : "s"}
                      </span>
                    </span>
                  )}
                </td>
                {canEdit && (
                  <td className={`${td} whitespace-nowrap`}>
                    {u.disabledAt ? (
                      <button
                        type="button"
                        data-mutates
                        onClick={() => setDisabled.mutate({ userId: u.id, disabled: false })}
                        className={btnSecondary}
                        aria-label={`Enable ${who(u)}`}
                      >
                        Enable
                      </button>
                    ) : (
                      <button
                        type="button"
                        data-mutates
                        disabled={self}
                        title={self ? "You cannot disable yourself" : undefined}
                        onClick={() => setPending({ kind: "disable", user: u })}
                        className={btnDanger}
                        aria-label={`Disable ${who(u)}`}
                      >
                        Disable
                      </button>
                    )}
                  </td>
                )}
              </tr>
            );
          })}
        </DataTable>
      )}

      <ConfirmDialog
        open={pending !== null}
        onOpenChange={(open) => !open && setPending(null)}
        variant="danger"
        title={
          pending?.kind === "role"
            ? `Change ${who(pending.user)} from ${pending.user.role} to ${pending.role}?`
            : pending
              ? `Disable ${who(pending.user)}?`
              : ""
        }
        description={
          pending?.kind === "role"
            ? `They lose the rights of ${pending.user.role} and are signed out of the console now; their next sign-in gets ${pending.role}.`
            : "They are signed out now and cannot sign in until an admin enables them again."
        }
        confirmLabel={pending?.kind === "role" ? "Change role" : "Disable"}
        onConfirm={async () => {
          if (pending?.kind === "role") await setRole.mutateAsync({ userId: pending.user.id, role: pending.role });
          else if (pending) await setDisabled.mutateAsync({ userId: pending.user.id, disabled: true });
        }}
      />
    </div>
  );
}

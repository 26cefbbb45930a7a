"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import type { useInlineStatus } from "~/components/ui/inline-status.tsx";
import { btnPrimary, control } from "~/components/ui/styles.ts";
import type { UserListItem } from "~/server/api/routers/user.ts";
import { useTRPC } from "~/trpc/react.tsx";

type Role = UserListItem["role"];
const ROLES: Role[] = ["VIEWER", "OPERATOR", "APPROVER", "ADMIN"];

/**
 * Adds someone by email with a role (admins only; the server refuses everyone else), so they can
 * sign in with SSO or DingTalk and approve before their first sign-in.
 */
export function AddUserForm({ status }: { status: ReturnType<typeof useInlineStatus> }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const id = useId();
  const [email, setEmail] = useState("");
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("VIEWER");
  const add = useMutation(
    trpc.user.add.mutationOptions({
      onSuccess: (r) => {
        status.success(`Added: ${r.summary}.`);
        setEmail("");
        setName("");
        setRole("VIEWER");
      },
      onError: (e) => status.error(`Not added: ${e.message}`),
      onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.user.list.pathKey() }),
    }),
  );
  return (
    <form
      aria-label="Add user"
      className="flex flex-wrap items-end gap-3 rounded-lg border border-slate-200 bg-white p-3 shadow-sm"
      onSubmit={(e) => {
        e.preventDefault();
        add.mutate({ email, role, ...(name.trim() ? { name } : {}) });
      }}
    >
      <div>
        <label htmlFor={`${id}-email`} className="block text-sm font-medium text-slate-700">
          Email
        </label>
        <input
          id={`${id}-email`}
          type="email"
          required
          maxLength={254}
          autoComplete="off"
          className={`${control} w-64`}
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
      </div>
      <div>
        <label htmlFor={`${id}-name`} className="block text-sm font-medium text-slate-700">
          Name (optional)
        </label>
        <input
          id={`${id}-name`}
          maxLength={100}
          autoComplete="off"
          className={`${control} w-48`}
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
      </div>
      <div>
        <label htmlFor={`${id}-role`} className="block text-sm font-medium text-slate-700">
          Role
        </label>
        <select id={`${id}-role`} className={control} value={role} onChange={(e) => setRole(e.target.value as Role)}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </div>
      <button type="submit" data-mutates className={btnPrimary} disabled={add.isPending}>
        Add user
      </button>
      <p className="basis-full text-xs text-slate-600">
        They sign in with SSO or DingTalk using this email; no invitation is sent.
      </p>
    </form>
  );
}

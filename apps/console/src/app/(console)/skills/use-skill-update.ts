"use client";
/**
 * The skill update mutation, optimistic: the list and the detail view change at once, roll back
 * if the server refuses, and refetch when it settles. Results go to the page's inline status.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { savedText } from "~/components/ui/format.ts";
import type { useInlineStatus } from "~/components/ui/inline-status.tsx";
import type { SkillListItem } from "~/server/api/routers/skill.ts";
import { useTRPC } from "~/trpc/react.tsx";
import { errorText } from "./error-text.ts";

export function useSkillUpdate(status: ReturnType<typeof useInlineStatus>) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  return useMutation(
    trpc.skill.update.mutationOptions({
      onMutate: async (input) => {
        const lists = trpc.skill.list.pathFilter();
        const detail = trpc.skill.get.queryKey({ key: input.key });
        await Promise.all([qc.cancelQueries(lists), qc.cancelQueries({ queryKey: detail })]);
        const previousLists = qc.getQueriesData<SkillListItem[]>(lists);
        const previousDetail = qc.getQueryData(detail);
        const patch = {
          ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
          ...(input.requiresApproval !== undefined ? { requiresApproval: input.requiresApproval } : {}),
          ...(input.environments !== undefined ? { environments: input.environments } : {}),
        };
        qc.setQueriesData<SkillListItem[]>(lists, (old) =>
          old?.map((s) => (s.key === input.key ? { ...s, ...patch } : s)),
        );
        qc.setQueryData(detail, (old) => (old ? { ...old, ...patch } : old));
        return { previousLists, previousDetail, detail };
      },
      onError: (error, input, context) => {
        for (const [key, data] of context?.previousLists ?? []) qc.setQueryData(key, data);
        if (context) qc.setQueryData(context.detail, context.previousDetail);
        status.error(`${input.key} was not changed: ${errorText(error)}`);
      },
      onSuccess: (r) => status.success(savedText(r)),
      onSettled: (_data, _error, input) =>
        Promise.all([
          qc.invalidateQueries(trpc.skill.list.pathFilter()),
          qc.invalidateQueries({ queryKey: trpc.skill.get.queryKey({ key: input.key }) }),
        ]),
    }),
  );
}

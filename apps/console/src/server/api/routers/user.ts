import {
  addUser,
  addUserSchema,
  listUsers,
  type UserAdded,
  type UserChange,
  setDisabledSchema,
  setRoleSchema,
  setUserDisabled,
  setUserRole,
  userListSchema,
} from "@clawgate/core/console/users.ts";
import { auditedMutation } from "../mutation.ts";
import { adminProcedure, createTRPCRouter, viewerProcedure } from "../trpc.ts";

export type UserList = Awaited<ReturnType<typeof listUsers>>;
export type UserListItem = UserList["items"][number];

/** Users and roles: every signed-in role reads; only admins change roles or disable. */
export const userRouter = createTRPCRouter({
  list: viewerProcedure.input(userListSchema.optional()).query(({ ctx, input }) => listUsers(ctx.db, input)),

  /** Adds someone by email with a role; an email that exists is refused (CONFLICT). */
  add: adminProcedure.input(addUserSchema).mutation(({ ctx, input }) =>
    auditedMutation(
      ctx,
      (c: UserAdded) => ({ action: "user.add", targetType: "user", targetId: c.userId, diff: c.diff }),
      (tx) => addUser(tx, ctx.user.id, input),
    ),
  ),

  setRole: adminProcedure.input(setRoleSchema).mutation(({ ctx, input }) =>
    auditedMutation(
      ctx,
      (c: UserChange) => ({
        action: "user.role",
        targetType: "user",
        targetId: c.userId,
        diff: { ...c.diff, sessionsRevoked: c.sessionsRevoked },
      }),
      (tx) => setUserRole(tx, ctx.user.id, input),
    ),
  ),

  setDisabled: adminProcedure.input(setDisabledSchema).mutation(({ ctx, input }) =>
    auditedMutation(
      ctx,
      (c: UserChange) => ({
        action: input.disabled ? "user.disable" : "user.enable",
        targetType: "user",
        targetId: c.userId,
        diff: { ...c.diff, sessionsRevoked: c.sessionsRevoked },
      }),
      (tx) => setUserDisabled(tx, ctx.user.id, input),
    ),
  ),
});

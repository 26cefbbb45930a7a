import { z } from "zod";
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
import { Role } from "@clawgate/db/enums";
import { auditedMutation } from "../mutation.ts";
import { adminProcedure, createTRPCRouter, viewerProcedure } from "../trpc.ts";

const userListOutput = z.object({
  items: z.array(
    z.object({
      id: z.string(),
      name: z.string().nullable(),
      email: z.string().nullable(),
      role: z.enum(Role),
      disabledAt: z.date().nullable(),
      lastSignInAt: z.date().nullable(),
      createdAt: z.date(),
      activeSessions: z.number().int(),
    }),
  ),
  total: z.number().int(),
  page: z.number().int(),
  pageSize: z.number().int(),
});
export type UserList = z.infer<typeof userListOutput>;
export type UserListItem = UserList["items"][number];

const userChanged = z.object({
  userId: z.string(),
  email: z.string().nullable(),
  sessionsRevoked: z.number().int(),
  summary: z.string(),
});

/** Users and roles: every signed-in role reads; only admins change roles or disable. */
export const userRouter = createTRPCRouter({
  list: viewerProcedure
    .input(userListSchema.optional())
    .output(userListOutput)
    .query(({ ctx, input }) => listUsers(ctx.db, input)),

  /** Adds someone by email with a role; an email that exists is refused (CONFLICT). */
  add: adminProcedure
    .input(addUserSchema)
    .output(userChanged.extend({ created: z.boolean() }))
    .mutation(({ ctx, input }) =>
      auditedMutation(
        ctx,
        (c: UserAdded) => ({ action: "user.add", targetType: "user", targetId: c.userId, diff: c.diff }),
        (tx) => addUser(tx, ctx.user.id, input),
      ),
    ),

  setRole: adminProcedure
    .input(setRoleSchema)
    .output(userChanged)
    .mutation(({ ctx, input }) =>
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

  setDisabled: adminProcedure
    .input(setDisabledSchema)
    .output(userChanged)
    .mutation(({ ctx, input }) =>
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

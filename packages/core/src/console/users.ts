/**
 * Console users and roles (Users & roles page). Role changes and disabling are audited by the
 * console (`auditedMutation`): the runtime's policy does not read them.
 *
 * Rules, enforced here inside the caller's transaction:
 * - An admin cannot demote or disable themselves (they could lock everyone out by mistake).
 * - The last active admin cannot be demoted or disabled. Changes to admins serialise on an
 *   advisory lock, so two admins demoting each other at the same moment cannot both succeed.
 * - Disabling or demoting a user deletes their sessions in the same transaction: they sign in
 *   again and get the new role (or nothing). Promotions keep the session (nothing to revoke).
 * - Adding a user (console form, `clawgate user add`) creates them by email with a role, so they
 *   can sign in (SSO or DingTalk, matched by email) and approve before any SSO sign-in. An email
 *   that exists is refused, unless the caller asks to update the role (the CLI's --update-role).
 */
import type { Role } from "@clawgate/db/enums";
import type { Db, Prisma, Tx } from "@clawgate/db";
import { z } from "zod";
import { diffFields, type FieldDiff } from "../diff.ts";
import { DomainError } from "../errors.ts";

export const ROLES = ["ADMIN", "APPROVER", "OPERATOR", "VIEWER"] as const satisfies readonly Role[];

const USER_ADMIN_LOCK = 0x7573_6572; // "user"

export const userListSchema = z.strictObject({
  search: z.string().trim().max(200, { error: "the search is too long (200 characters at most)" }).optional(),
  role: z.enum(ROLES, { error: "role must be ADMIN, APPROVER, OPERATOR or VIEWER" }).optional(),
  page: z.number().int().min(1).default(1),
  pageSize: z.number().int().min(1).max(100).default(25),
});
export type UserListInput = z.input<typeof userListSchema>;

export interface UserListItem {
  id: string;
  name: string | null;
  email: string | null;
  role: Role;
  disabledAt: Date | null;
  lastSignInAt: Date | null;
  createdAt: Date;
  activeSessions: number;
}

export async function listUsers(db: Db | Tx, input: UserListInput = {}, now = new Date()) {
  const q = userListSchema.parse(input);
  const where: Prisma.UserWhereInput = {
    ...(q.role ? { role: q.role } : {}),
    ...(q.search
      ? {
          OR: [
            { name: { contains: q.search, mode: "insensitive" } },
            { email: { contains: q.search, mode: "insensitive" } },
          ],
        }
      : {}),
  };
  const [rows, total] = await Promise.all([
    db.user.findMany({
      where,
      orderBy: [{ disabledAt: { sort: "desc", nulls: "first" } }, { email: "asc" }, { id: "asc" }],
      skip: (q.page - 1) * q.pageSize,
      take: q.pageSize,
      select: {
        id: true,
        name: true,
        email: true,
        role: true,
        disabledAt: true,
        lastSignInAt: true,
        createdAt: true,
        _count: { select: { sessions: { where: { expires: { gt: now } } } } },
      },
    }),
    db.user.count({ where }),
  ]);
  const items: UserListItem[] = rows.map(({ _count, ...u }) => ({ ...u, activeSessions: _count.sessions }));
  return { items, total, page: q.page, pageSize: q.pageSize };
}

/** True when going from `from` to `to` loses a right the user had (ADMIN > APPROVER/OPERATOR > VIEWER). */
export function isDemotion(from: Role, to: Role): boolean {
  if (from === to || to === "ADMIN" || from === "VIEWER") return false;
  return true; // ADMIN -> anything else, APPROVER <-> OPERATOR, anything -> VIEWER
}

export const setRoleSchema = z.strictObject({
  userId: z.string().min(1, { error: "userId is required" }),
  role: z.enum(ROLES, { error: "role must be ADMIN, APPROVER, OPERATOR or VIEWER" }),
});
export const setDisabledSchema = z.strictObject({
  userId: z.string().min(1, { error: "userId is required" }),
  disabled: z.boolean({ error: "disabled must be true or false" }),
});

export interface UserChange {
  userId: string;
  email: string | null;
  diff: FieldDiff;
  /** Session rows deleted (the user signs in again). */
  sessionsRevoked: number;
  summary: string;
}

async function lockedTarget(tx: Tx, userId: string) {
  await tx.$queryRaw`SELECT 1 FROM pg_advisory_xact_lock(${USER_ADMIN_LOCK})`;
  const user = await tx.user.findUnique({
    where: { id: userId },
    select: { id: true, email: true, name: true, role: true, disabledAt: true },
  });
  if (!user) throw new DomainError("NOT_FOUND", "No such user.");
  return user;
}

async function otherActiveAdmins(tx: Tx, userId: string): Promise<number> {
  return tx.user.count({ where: { role: "ADMIN", disabledAt: null, id: { not: userId } } });
}

const who = (u: { email: string | null; name: string | null; id: string }) => u.email ?? u.name ?? u.id;

/** Changes a user's role. `actorId` is the signed-in admin's user id. */
export async function setUserRole(tx: Tx, actorId: string, input: z.input<typeof setRoleSchema>): Promise<UserChange> {
  const { userId, role } = setRoleSchema.parse(input);
  const user = await lockedTarget(tx, userId);
  if (user.role === role) throw new DomainError("CONFLICT", `${who(user)} is already ${role}.`);
  const demotion = isDemotion(user.role, role);
  if (userId === actorId && demotion)
    throw new DomainError("PRECONDITION_FAILED", "You cannot demote yourself: ask another admin.");
  if (user.role === "ADMIN" && !user.disabledAt && (await otherActiveAdmins(tx, userId)) === 0) {
    throw new DomainError(
      "PRECONDITION_FAILED",
      `${who(user)} is the last active admin: make someone else ADMIN first.`,
    );
  }
  await tx.user.update({ where: { id: userId }, data: { role } });
  const sessionsRevoked = demotion ? (await tx.session.deleteMany({ where: { userId } })).count : 0;
  return {
    userId,
    email: user.email,
    diff: diffFields({ role: user.role }, { role }),
    sessionsRevoked,
    summary: `${who(user)}: role ${user.role} -> ${role}${sessionsRevoked ? `, ${sessionsRevoked} session(s) revoked` : ""}`,
  };
}

/** Disables (sessions revoked, sign-in refused) or re-enables a user. */
export async function setUserDisabled(
  tx: Tx,
  actorId: string,
  input: z.input<typeof setDisabledSchema>,
  now = new Date(),
): Promise<UserChange> {
  const { userId, disabled } = setDisabledSchema.parse(input);
  const user = await lockedTarget(tx, userId);
  if (!!user.disabledAt === disabled)
    throw new DomainError("CONFLICT", `${who(user)} is already ${disabled ? "disabled" : "enabled"}.`);
  if (disabled) {
    if (userId === actorId)
      throw new DomainError("PRECONDITION_FAILED", "You cannot disable yourself: ask another admin.");
    if (user.role === "ADMIN" && (await otherActiveAdmins(tx, userId)) === 0) {
      throw new DomainError(
        "PRECONDITION_FAILED",
        `${who(user)} is the last active admin: make someone else ADMIN first.`,
      );
    }
  }
  await tx.user.update({ where: { id: userId }, data: { disabledAt: disabled ? now : null } });
  const sessionsRevoked = disabled ? (await tx.session.deleteMany({ where: { userId } })).count : 0;
  return {
    userId,
    email: user.email,
    diff: diffFields({ disabled: !!user.disabledAt }, { disabled }),
    sessionsRevoked,
    summary: `${who(user)}: ${disabled ? "disabled" : "enabled"}${sessionsRevoked ? `, ${sessionsRevoked} session(s) revoked` : ""}`,
  };
}

export const addUserSchema = z.strictObject({
  email: z
    .string({ error: "email is required" })
    .trim()
    .toLowerCase()
    .pipe(z.email({ error: "email must be an email address, e.g. ada@example.com" }).max(254)),
  role: z.enum(ROLES, { error: "role must be ADMIN, APPROVER, OPERATOR or VIEWER" }),
  name: z
    .string()
    .trim()
    .max(100, { error: "the name is too long (100 characters at most)" })
    .optional()
    .transform((n) => n || undefined),
});
export type AddUserInput = z.input<typeof addUserSchema>;

export interface UserAdded extends UserChange {
  /** false when an existing user's role was updated instead (`updateRole`). */
  created: boolean;
}

/**
 * Adds a console user by email with a role. `actorId` is who adds them (a user id, or the CLI's
 * `user@host`); with `updateRole`, an existing user gets the role instead (same rules as
 * `setUserRole`: never the last active admin's demotion).
 */
export async function addUser(
  tx: Tx,
  actorId: string,
  input: AddUserInput,
  opts: { updateRole?: boolean } = {},
): Promise<UserAdded> {
  const { email, role, name } = addUserSchema.parse(input);
  await tx.$queryRaw`SELECT 1 FROM pg_advisory_xact_lock(${USER_ADMIN_LOCK})`;
  const existing = await tx.user.findUnique({ where: { email }, select: { id: true, role: true, disabledAt: true } });
  if (existing) {
    if (!opts.updateRole) {
      throw new DomainError(
        "CONFLICT",
        `${email} is already a user (${existing.role}${existing.disabledAt ? ", disabled" : ""}): nothing added.`,
      );
    }
    return { ...(await setUserRole(tx, actorId, { userId: existing.id, role })), created: false };
  }
  const user = await tx.user.create({ data: { email, name: name ?? null, role }, select: { id: true } });
  return {
    userId: user.id,
    email,
    diff: diffFields(null, { email, name: name ?? null, role }),
    sessionsRevoked: 0,
    summary: `${email} added as ${role}`,
    created: true,
  };
}

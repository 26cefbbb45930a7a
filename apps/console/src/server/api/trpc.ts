/**
 * tRPC server setup.
 * 1. Context: session, db, request id, logger.
 * 2. Initialisation: superjson, zod errors flattened onto the error shape.
 * 3. Procedures: public -> protected (signed in) -> role procedures.
 */
import "server-only";
import { randomUUID } from "node:crypto";
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { z } from "zod";
import { DomainError } from "@clawgate/core/errors.ts";
import type { SecretRefPolicy } from "@clawgate/core/secret-refs.ts";
import { getDb } from "@clawgate/db";
import type { Role } from "@clawgate/db/enums";
import { getSession } from "../auth.ts";
import { hasRole, ROLE_SETS } from "./roles.ts";

// 1. Context ------------------------------------------------------------------------------

export async function createTRPCContext(opts: { headers: Headers; secretRefs: SecretRefPolicy }) {
  const requestId = opts.headers.get("x-request-id") ?? randomUUID();
  const session = await getSession();
  // Metadata only: request id and user id, never inputs or personal data.
  const log = (level: "info" | "warn" | "error", msg: string, extra: Record<string, unknown> = {}) =>
    console[level](JSON.stringify({ level, msg, requestId, userId: session?.user.id, ...extra }));
  // The secret-reference policy comes from the console's env (server/secret-refs.ts), passed in so
  // that router tests build a context without the validated env.
  return { db: getDb(), session, requestId, log, secretRefs: opts.secretRefs };
}
export type Context = Awaited<ReturnType<typeof createTRPCContext>>;

// 2. Initialisation ------------------------------------------------------------------------

const t = initTRPC.context<Context>().create({
  transformer: superjson,
  errorFormatter: ({ shape, error, ctx }) => ({
    ...shape,
    data: {
      ...shape.data,
      requestId: ctx?.requestId,
      zodError: error.cause instanceof z.ZodError ? z.flattenError(error.cause) : null,
    },
  }),
});

export const createTRPCRouter = t.router;
export const createCallerFactory = t.createCallerFactory;

// 3. Procedures ----------------------------------------------------------------------------

/** A DomainError from core becomes the tRPC error of the same code, here and nowhere else. */
const domainErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof DomainError) {
    const cause = result.error.cause;
    throw new TRPCError({ code: cause.code, message: cause.message, cause });
  }
  return result;
});

export const publicProcedure = t.procedure.use(domainErrors);

export const protectedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.session?.user) throw new TRPCError({ code: "UNAUTHORIZED" });
  return next({ ctx: { ...ctx, session: ctx.session, user: ctx.session.user } });
});

export function roleProcedure(...allowed: Role[]) {
  return protectedProcedure.use(({ ctx, next, path }) => {
    if (!hasRole(ctx.user.role, allowed)) {
      ctx.log("warn", "forbidden", { path, role: ctx.user.role });
      throw new TRPCError({ code: "FORBIDDEN", message: "Your role does not allow this." });
    }
    return next();
  });
}

export const viewerProcedure = roleProcedure(...ROLE_SETS.viewer);
export const operatorProcedure = roleProcedure(...ROLE_SETS.operator);
export const approverProcedure = roleProcedure(...ROLE_SETS.approver);
export const adminProcedure = roleProcedure(...ROLE_SETS.admin);

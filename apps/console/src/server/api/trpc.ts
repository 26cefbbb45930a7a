/**
 * tRPC server setup.
 * 1. Context: session, db, request id, logger (pino, the runtime's setup: server/logger.ts).
 * 2. Initialisation: superjson, zod errors flattened onto the error shape.
 * 3. Procedures: public -> protected (signed in) -> role procedures.
 */
import "server-only";
import { randomUUID } from "node:crypto";
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { z } from "zod";
import { appendAudit } from "@clawgate/core/audit.ts";
import { DomainError } from "@clawgate/core/errors.ts";
import type { Logger } from "@clawgate/core/logger.ts";
import type { SecretRefPolicy } from "@clawgate/core/secret-refs.ts";
import type { Db } from "@clawgate/db";
import type { Role } from "@clawgate/db/enums";
import { getSession } from "../auth.ts";
import { logger } from "../logger.ts";
import { hasRole, ROLE_SETS } from "./roles.ts";

// 1. Context ------------------------------------------------------------------------------

/** The request's id: the proxy's X-Request-Id when there is one, else a new one. */
export const requestIdOf = (headers: Headers) => headers.get("x-request-id") ?? randomUUID();

export async function createTRPCContext(opts: {
  headers: Headers;
  db: Db;
  secretRefs: SecretRefPolicy;
  requestId?: string;
}) {
  const requestId = opts.requestId ?? requestIdOf(opts.headers);
  const session = await getSession();
  // Metadata only: request id and user id, never inputs or personal data.
  const log: Logger = logger.child({ requestId, userId: session?.user.id });
  // The database and the secret-reference policy come from the console's env (the route handler),
  // passed in so that router tests build a context without the validated env.
  return { db: opts.db, session, requestId, log, secretRefs: opts.secretRefs };
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
  return protectedProcedure.use(async ({ ctx, next, path, type }) => {
    if (!hasRole(ctx.user.role, allowed)) {
      ctx.log.warn({ path, role: ctx.user.role }, "forbidden");
      // A mutation refused for lack of role is audited (who, which procedure, their role; never the input).
      if (type === "mutation") await auditRefusal(ctx, path);
      throw new TRPCError({ code: "FORBIDDEN", message: "Your role does not allow this." });
    }
    return next();
  });
}

async function auditRefusal(
  ctx: Context & { user: { id: string; email?: string | null; name?: string | null; role: Role } },
  path: string,
): Promise<void> {
  try {
    await ctx.db.$transaction((tx) =>
      appendAudit(tx, {
        actor: { type: "USER", id: ctx.user.id, name: ctx.user.email ?? ctx.user.name ?? ctx.user.id },
        action: "auth.refused",
        targetType: "procedure",
        targetId: path,
        traceId: ctx.requestId,
        diff: { path, role: ctx.user.role },
      }),
    );
  } catch (error) {
    // The refusal stands either way; a failed audit write is logged, not turned into a 500.
    ctx.log.error({ err: error, path }, "could not audit a refused mutation");
  }
}

export const viewerProcedure = roleProcedure(...ROLE_SETS.viewer);
export const operatorProcedure = roleProcedure(...ROLE_SETS.operator);
export const approverProcedure = roleProcedure(...ROLE_SETS.approver);
export const adminProcedure = roleProcedure(...ROLE_SETS.admin);

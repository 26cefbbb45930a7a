/** A request's tRPC context with what the console's env gives (database, secret-reference policy). */
import "server-only";
import { consoleDb } from "~/server/db.ts";
import { consoleSecretRefs } from "../secret-refs.ts";
import { createTRPCContext } from "./trpc.ts";

export const requestContext = (headers: Headers, requestId?: string) =>
  createTRPCContext({
    headers,
    db: consoleDb(),
    secretRefs: consoleSecretRefs,
    ...(requestId ? { requestId } : {}),
  });

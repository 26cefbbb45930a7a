/** A request's tRPC context with what the console's env gives (database, secret-reference policy). */
import "server-only";
import { getDb } from "@clawgate/db";
import { env } from "~/env.ts";
import { consoleSecretRefs } from "../secret-refs.ts";
import { createTRPCContext } from "./trpc.ts";

export const requestContext = (headers: Headers, requestId?: string) =>
  createTRPCContext({
    headers,
    db: getDb(env.DATABASE_URL, { dataKeys: env.CLAWGATE_DATA_KEYS }),
    secretRefs: consoleSecretRefs,
    ...(requestId ? { requestId } : {}),
  });

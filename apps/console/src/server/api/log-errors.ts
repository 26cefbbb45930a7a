/**
 * The tRPC route handler's `onError`. Refusals (a DomainError, bad input, no session or role)
 * are the caller's 4xx and answered as such; anything that becomes a 5xx is a bug or an outage
 * and is logged here, with the request id, or it would be logged nowhere.
 */
import type { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { errorFields, type Logger } from "@clawgate/core/logger.ts";

export function logUnexpectedErrors(log: Logger, requestId: string) {
  return ({ error, path, type }: { error: TRPCError; path?: string | undefined; type: string }) => {
    if (getHTTPStatusCodeFromError(error) < 500) return;
    log.error({ requestId, path, type, error: errorFields(error.cause ?? error) }, "unexpected error");
  };
}

import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { env } from "~/env.ts";
import { appRouter } from "~/server/api/root.ts";
import { requestContext } from "~/server/api/context.ts";
import { logUnexpectedErrors } from "~/server/api/log-errors.ts";
import { requestIdOf } from "~/server/api/trpc.ts";
import { csrfForbidden, csrfRefusal } from "~/server/csrf.ts";
import { logger } from "~/server/logger.ts";

const handler = (req: Request) => {
  // Mutations (POST) only from the console's own pages: see server/csrf.ts.
  const refusal = csrfRefusal(req, env.NEXTAUTH_URL);
  if (refusal) return csrfForbidden(refusal);
  const requestId = requestIdOf(req.headers);
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: () => requestContext(req.headers, requestId),
    onError: logUnexpectedErrors(logger, requestId),
  });
};

export { handler as GET, handler as POST };

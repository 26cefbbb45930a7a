import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { env } from "~/env.ts";
import { appRouter } from "~/server/api/root.ts";
import { createTRPCContext } from "~/server/api/trpc.ts";
import { csrfForbidden, csrfRefusal } from "~/server/csrf.ts";
import { consoleSecretRefs } from "~/server/secret-refs.ts";

const handler = (req: Request) => {
  // Mutations (POST) only from the console's own pages: see server/csrf.ts.
  const refusal = csrfRefusal(req, env.NEXTAUTH_URL);
  if (refusal) return csrfForbidden(refusal);
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: () => createTRPCContext({ headers: req.headers, secretRefs: consoleSecretRefs }),
  });
};

export { handler as GET, handler as POST };

/**
 * CSRF protection for the tRPC API. Session cookies ride along on any request the browser makes
 * to the console, so a state-changing request (every tRPC POST is a mutation: queries are GETs)
 * must prove it comes from the console's own pages:
 * - the `x-trpc-source` header our tRPC clients send: a cross-site form cannot set a header, and
 *   a cross-origin fetch with one needs a CORS preflight the console never grants;
 * - when the browser says where the request comes from (Origin, Sec-Fetch-Site), that is this
 *   console's public origin (NEXTAUTH_URL), not another site or a sibling subdomain.
 * next-auth's own routes keep their double-submit CSRF token.
 */
export const CSRF_HEADER = "x-trpc-source";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Why the request is refused, or undefined when it may go on. */
export function csrfRefusal(req: Request, consoleOrigin: string): string | undefined {
  if (SAFE_METHODS.has(req.method.toUpperCase())) return undefined;
  if (!req.headers.get(CSRF_HEADER)) return `missing the ${CSRF_HEADER} header`;
  const origin = req.headers.get("origin");
  if (origin !== null && origin !== new URL(consoleOrigin).origin) return "cross-origin request";
  const site = req.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin") return `cross-site request (${site})`;
  return undefined;
}

/** The refusal in tRPC's error shape, so a tRPC client shows a readable error. */
export function csrfForbidden(reason: string): Response {
  return Response.json(
    {
      error: {
        message: `Refused: ${reason}. Mutations are accepted only from the console's own pages.`,
        code: -32003,
        data: { code: "FORBIDDEN", httpStatus: 403 },
      },
    },
    { status: 403, headers: { "cache-control": "no-store" } },
  );
}

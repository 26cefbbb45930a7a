/**
 * The audit log's export (CSV or JSON) of the page's filters, streamed: the body pages through
 * the rows as the client reads, so a million rows never sit in memory. Signed-in ADMIN or
 * OPERATOR only (checked here, on the server); the export itself is audited before it starts.
 */
import { startAuditExport } from "@clawgate/core/console/audit-export.ts";
import { isDomainError } from "@clawgate/core/errors.ts";
import { consoleDb } from "~/server/db.ts";
import { hasRole, ROLE_SETS } from "~/server/api/roles.ts";
import { requestIdOf } from "~/server/api/trpc.ts";
import { getSession } from "~/server/auth.ts";
import { logger } from "~/server/logger.ts";

export const dynamic = "force-dynamic";

const refuse = (status: number, error: string, problems?: readonly string[]) =>
  Response.json({ error, ...(problems ? { problems } : {}) }, { status, headers: { "cache-control": "no-store" } });

export async function GET(req: Request) {
  const requestId = requestIdOf(req.headers);
  const session = await getSession();
  if (!session?.user) return refuse(401, "Sign in to export the audit log.");
  if (!hasRole(session.user.role, ROLE_SETS.auditExport)) {
    logger.warn({ requestId, role: session.user.role, path: "audit.export" }, "forbidden");
    return refuse(403, "Your role does not allow exporting the audit log.");
  }
  // The page's filters as query parameters; empty ones are no filter.
  const params = Object.fromEntries([...new URL(req.url).searchParams].filter(([, v]) => v.trim() !== ""));
  try {
    const { stream, fileName, contentType } = await startAuditExport(
      consoleDb(),
      // As actorOf names a signed-in user in every other audit entry.
      { type: "USER", id: session.user.id, name: session.user.email ?? session.user.name ?? session.user.id },
      params,
      { traceId: requestId },
    );
    return new Response(stream, {
      headers: {
        "content-type": contentType,
        "content-disposition": `attachment; filename="${fileName}"`,
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        "x-request-id": requestId,
      },
    });
  } catch (error) {
    if (isDomainError(error)) return refuse(400, error.message, error.problems);
    logger.error({ requestId, err: String(error).split("\n")[0] }, "audit export failed");
    return refuse(500, "The export could not be started.");
  }
}

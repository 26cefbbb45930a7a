/**
 * Fastify's request log lines, reshaped: one line per request when it completes, with the
 * trace id (bound by Fastify as `traceId`), method, route pattern, status and duration. Never
 * the URL (query strings carry DingTalk signatures), headers or bodies.
 */
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";

const QUIET_ROUTES = new Set(["/healthz", "/ready", "/metrics"]);

export const routeOf = (request: FastifyRequest) => request.routeOptions.url ?? "(unmatched)";

export class RequestLogController extends Fastify.LogController {
  constructor() {
    super({ requestIdLogLabel: "traceId" });
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const fields = {
      method: request.method,
      route: routeOf(request),
      status: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime * 100) / 100,
    };
    if (error) reply.log.error({ ...fields, err: error }, "request errored");
    // Probes hit these every few seconds: keep them out of info logs unless they fail.
    else if (QUIET_ROUTES.has(fields.route) && reply.statusCode < 400) reply.log.debug(fields, "request completed");
    else reply.log.info(fields, "request completed");
  }

  // The completed line already says route "(unmatched)", status 404; the default adds the URL.
  override routeNotFound(): void {}
}

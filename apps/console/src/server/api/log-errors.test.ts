import { Writable } from "node:stream";
import { TRPCError } from "@trpc/server";
import { describe, expect, it } from "vitest";
import { DomainError } from "@clawgate/core/errors.ts";
import { createLogger } from "@clawgate/core/logger.ts";
import { logUnexpectedErrors } from "./log-errors.ts";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, log: createLogger({ service: "clawgate-console", destination }) };
}

describe("logUnexpectedErrors", () => {
  it("logs a 5xx with the request id, the error's first line and no later lines", () => {
    const { lines, log } = capture();
    const cause = new Error("Invalid `prisma.skill.update()` invocation:\n{ data: { secret: 'hunter2' } }");
    logUnexpectedErrors(
      log,
      "req-1",
    )({
      error: new TRPCError({ code: "INTERNAL_SERVER_ERROR", cause }),
      path: "skill.update",
      type: "mutation",
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 50,
      service: "clawgate-console",
      requestId: "req-1",
      path: "skill.update",
      msg: "unexpected error",
      error: { type: "Error", message: "Invalid `prisma.skill.update()` invocation:" },
    });
    expect(JSON.stringify(lines[0])).not.toContain("hunter2");
  });

  it("does not log refusals: a DomainError's code, bad input, no session", () => {
    const { lines, log } = capture();
    const onError = logUnexpectedErrors(log, "req-2");
    const refusal = new DomainError("NOT_FOUND", "There is no skill");
    onError({ error: new TRPCError({ code: refusal.code, message: refusal.message, cause: refusal }), type: "query" });
    onError({ error: new TRPCError({ code: "BAD_REQUEST" }), type: "mutation" });
    onError({ error: new TRPCError({ code: "UNAUTHORIZED" }), type: "query" });
    expect(lines).toEqual([]);
  });
});

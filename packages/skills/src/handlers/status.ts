import { status } from "../builtin.ts";
import { fail, handlerFor } from "../handler.ts";

export const statusHandler = handlerFor(status, async (_input, ctx) => {
  if (!ctx.status) return fail("status is not available in this runtime");
  const report = await ctx.status();
  const lines = Object.entries(report).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
  return { ok: true, content: lines.join("\n") || "no status to report", data: report };
});

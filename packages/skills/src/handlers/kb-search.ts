import { z } from "zod";
import { kbSearch } from "../builtin.ts";
import { handlerFor } from "../handler.ts";
import { callInternalApi } from "./internal-api.ts";

const Response = z.object({
  results: z.array(z.object({ title: z.string(), url: z.string(), snippet: z.string().default("") })),
});

export const kbSearchHandler = handlerFor(kbSearch, async (input, ctx) => {
  const q = new URLSearchParams({ q: input.query, limit: String(input.limit) });
  const res = await callInternalApi(ctx, Response, { method: "GET", path: `/kb/search?${q}` });
  if (!res.ok) return res.result;
  // The API may ignore `limit`; the model's context should not pay for it.
  const results = res.body!.results.slice(0, input.limit);
  if (results.length === 0)
    return { ok: true, content: `No knowledge base articles match "${input.query}".`, data: { results } };
  const lines = results.map((r, i) => `${i + 1}. ${r.title} (${r.url})${r.snippet ? `\n   ${r.snippet}` : ""}`);
  return { ok: true, content: lines.join("\n"), data: { results } };
});

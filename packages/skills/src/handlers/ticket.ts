import { z } from "zod";
import { ticketCreate, ticketLookup } from "../builtin.ts";
import { fail, handlerFor } from "../handler.ts";
import { callInternalApi } from "./internal-api.ts";

const Ticket = z.object({ id: z.string(), status: z.string(), owner: z.string().nullable(), title: z.string() });
const Created = z.object({ id: z.string(), url: z.string() });

export const ticketLookupHandler = handlerFor(ticketLookup, async (input, ctx) => {
  const res = await callInternalApi(ctx, Ticket, {
    method: "GET",
    path: `/tickets/${encodeURIComponent(input.ticketId)}`,
    notFoundOk: true,
  });
  if (!res.ok) return res.result;
  if (res.body === null) return fail(`ticket ${input.ticketId} does not exist`);
  const t = res.body;
  return { ok: true, content: `${t.id} [${t.status}] ${t.title} (owner: ${t.owner ?? "unassigned"})`, data: t };
});

export const ticketCreateHandler = handlerFor(ticketCreate, async (input, ctx) => {
  const res = await callInternalApi(ctx, Created, {
    method: "POST",
    path: "/tickets",
    body: { project: input.project, title: input.title, body: input.body, reporter: ctx.userId },
  });
  if (!res.ok) return res.result;
  const t = res.body!;
  return { ok: true, content: `Created ticket ${t.id}: ${t.url}`, data: t };
});

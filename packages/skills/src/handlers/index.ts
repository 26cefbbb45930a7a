import type { SkillHandler } from "../handler.ts";
import { groupAnnounceHandler } from "./group-announce.ts";
import { helpHandler } from "./help.ts";
import { httpFetchHandler } from "./http-fetch.ts";
import { kbSearchHandler } from "./kb-search.ts";
import { statusHandler } from "./status.ts";
import { ticketCreateHandler, ticketLookupHandler } from "./ticket.ts";

/** Handlers by skill key; each takes the input its manifest (builtin.ts) parses. */
export const BUILTIN_HANDLERS: Record<string, SkillHandler<never>> = {
  help: helpHandler,
  status: statusHandler,
  "kb.search": kbSearchHandler,
  "ticket.lookup": ticketLookupHandler,
  "ticket.create": ticketCreateHandler,
  "group.announce": groupAnnounceHandler,
  "http.fetch": httpFetchHandler,
};

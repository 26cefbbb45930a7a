import { z } from "zod";
import { HOST_ENTRY_HELP, parseHostEntry } from "./handlers/net-guard.ts";
import { defineSkill, noSettings } from "./manifest.ts";

/** kb.* and ticket.*: the company's internal HTTP API (tokenEnv names the bearer token's env var). */
export const internalApiSettings = z.object({ baseUrl: z.url(), tokenEnv: z.string().min(1).optional() });

/** group.announce: optional narrowing by the admin, announcements only to these groups. */
export const groupAnnounceSettings = z.object({ allowedConversations: z.array(z.string()).optional() });

/**
 * http.fetch: the hosts (and ports) it may fetch from, whether RFC 1918 / fc00::/7 addresses are
 * allowed (loopback, link-local, metadata and the rest never are: handlers/net-guard.ts), the body cap.
 */
export const httpFetchSettings = z.object({
  allowedHosts: z
    .array(z.string().refine((entry) => parseHostEntry(entry) !== undefined, `must be ${HOST_ENTRY_HELP}`))
    .default([])
    .describe(`hosts it may fetch from, each ${HOST_ENTRY_HELP}`),
  allowPrivateNetworks: z
    .boolean()
    .default(false)
    .describe(
      "also allow addresses in 10/8, 172.16/12, 192.168/16 and fc00::/7 (loopback, link-local and metadata addresses are never allowed)",
    ),
  maxBytes: z
    .number()
    .int()
    .positive()
    .default(256 * 1024)
    .describe("the most bytes of a response body it reads"),
});

export const help = defineSkill({
  key: "help",
  description: "Explain what the robot can do in this conversation.",
  riskClass: "READ",
  requiresApproval: false,
  enabledByDefault: true,
  timeoutMs: 2_000,
  cacheTtlSeconds: 0,
  settings: noSettings,
  input: z.object({}),
});

export const status = defineSkill({
  key: "status",
  description: "Report the robot's status: safe mode, model route, budget left.",
  riskClass: "READ",
  requiresApproval: false,
  enabledByDefault: true,
  timeoutMs: 2_000,
  cacheTtlSeconds: 0,
  settings: noSettings,
  input: z.object({}),
});

export const kbSearch = defineSkill({
  key: "kb.search",
  description: "Search the internal knowledge base and return the best matching articles.",
  riskClass: "READ",
  requiresApproval: false,
  enabledByDefault: true,
  timeoutMs: 5_000,
  cacheTtlSeconds: 300,
  settings: internalApiSettings,
  input: z.object({
    query: z.string().min(2).max(200).describe("What to search for"),
    limit: z.number().int().min(1).max(10).default(3),
  }),
});

export const ticketLookup = defineSkill({
  key: "ticket.lookup",
  description: "Look up a ticket by its id and return its status, owner and summary.",
  riskClass: "READ",
  requiresApproval: false,
  enabledByDefault: true,
  timeoutMs: 5_000,
  cacheTtlSeconds: 30,
  settings: internalApiSettings,
  input: z.object({ ticketId: z.string().regex(/^[A-Z][A-Z0-9]+-\d+$/, "a ticket id like OPS-123") }),
});

export const ticketCreate = defineSkill({
  key: "ticket.create",
  description: "Create a ticket in the tracker. Needs an approver's grant.",
  riskClass: "WRITE",
  requiresApproval: true,
  enabledByDefault: true, // a write: offered, but every call waits for an approver
  timeoutMs: 10_000,
  cacheTtlSeconds: 0,
  settings: internalApiSettings,
  input: z.object({
    project: z.string().regex(/^[A-Z][A-Z0-9]+$/),
    title: z.string().min(3).max(200),
    body: z.string().max(4_000).default(""),
  }),
});

export const groupAnnounce = defineSkill({
  key: "group.announce",
  description: "Post an announcement to a DingTalk group (a write: throttled, and audited).",
  riskClass: "WRITE",
  requiresApproval: true,
  enabledByDefault: true, // a write: offered, but every call waits for an approver
  timeoutMs: 10_000,
  cacheTtlSeconds: 0,
  settings: groupAnnounceSettings,
  input: z.object({
    conversationId: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .describe("The group to post in (its openConversationId); omit for this conversation"),
    title: z.string().min(1).max(100).describe("A short title (DingTalk shows it in the chat list)"),
    text: z.string().min(1).max(4_000).describe("The announcement, markdown"),
  }),
  resolveInput: (input, { conversationId }) => ({ ...input, conversationId: input.conversationId ?? conversationId }),
});

export const httpFetch = defineSkill({
  key: "http.fetch",
  description:
    "Fetch a web page (HTTP GET) and return a text excerpt. Only hosts and ports on the admin's allowlist; " +
    "an entry without a port allows only the scheme's default (http 80, https 443). Addresses must be public, " +
    "or private-network (10/8, 172.16/12, 192.168/16, fc00::/7) when the admin allows that; loopback, " +
    "link-local, cloud metadata, multicast and reserved addresses are always refused. Up to 3 redirects, each checked the same way.",
  riskClass: "READ",
  requiresApproval: false,
  // Off until an admin lists allowedHosts: with none it refuses every URL, so offering it to the
  // model on a fresh install would only produce refusals.
  enabledByDefault: false,
  timeoutMs: 8_000,
  cacheTtlSeconds: 60,
  settings: httpFetchSettings,
  input: z.object({ url: z.string().url() }),
  untrustedOutput: true,
});

export const BUILTIN_SKILLS = [help, status, kbSearch, ticketLookup, ticketCreate, groupAnnounce, httpFetch] as const;

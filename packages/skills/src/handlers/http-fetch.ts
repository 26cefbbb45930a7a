/**
 * http.fetch: GET a page from an allowlisted host and port. Settings (builtin.ts httpFetchSettings):
 *   { allowedHosts: ["wiki.corp.example", "*.docs.example:8080"], allowPrivateNetworks?: false, maxBytes?: 262144 }
 * Each hop (max 3 redirects) re-checks scheme, host, port and resolved addresses (net-guard.ts),
 * and connects to the address it checked (no second DNS lookup, so no rebinding window).
 */
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { httpFetch } from "../builtin.ts";
import { fail, handlerFor, type SkillResult } from "../handler.ts";
import {
  allowlistRefusal,
  RefusedError,
  resolveChecked,
  systemResolver,
  type ResolvedAddress,
  type Resolver,
} from "./net-guard.ts";

const MAX_REDIRECTS = 3;
const EXCERPT_CHARS = 4_000;

/** A request other than http.fetch's plain GET (HTTP tools): method, headers, body. */
export interface RequestSpec {
  method: string;
  headers: Record<string, string>;
  body?: string;
}

/** Opens the request to `url` connecting only to `target` (already checked). */
export type Connector = (
  url: URL,
  target: ResolvedAddress[],
  signal: AbortSignal,
  spec?: RequestSpec,
) => Promise<IncomingMessage>;

/**
 * The handler, with name resolution and the connection injectable: tests resolve names to the
 * addresses under test and see where the handler would connect, without sending traffic there.
 */
export function createHttpFetchHandler(net: { resolve?: Resolver; connect?: Connector } = {}) {
  const resolve = net.resolve ?? systemResolver;
  const connect = net.connect ?? requestPinned;
  return handlerFor(httpFetch, async (input, ctx) => {
    const settings = httpFetch.settings.safeParse(ctx.settings ?? {});
    if (!settings.success) return fail("http.fetch settings are invalid");
    const { allowedHosts, allowPrivateNetworks, maxBytes } = settings.data;

    let url = new URL(input.url);
    for (let hop = 0; ; hop++) {
      const refused = checkUrl(url, allowedHosts);
      if (refused) return fail(`refused: ${refused}`);
      let target: ResolvedAddress[];
      try {
        target = await resolveChecked(url.hostname, allowPrivateNetworks, resolve);
      } catch (err) {
        if (err instanceof RefusedError) return fail(`refused: ${err.message}`);
        throw err;
      }
      let res: IncomingMessage;
      try {
        res = await connect(url, target, ctx.signal);
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        return fail(`could not fetch ${url.host}: ${(err as NodeJS.ErrnoException).code ?? "connection failed"}`, true);
      }
      const location = res.headers.location;
      if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && location) {
        res.destroy();
        if (hop >= MAX_REDIRECTS) return fail(`refused: more than ${MAX_REDIRECTS} redirects`);
        url = new URL(location, url);
        continue;
      }
      return readBody(url, res, maxBytes);
    }
  });
}

export const httpFetchHandler = createHttpFetchHandler();

export function checkUrl(url: URL, allowedHosts: readonly string[]): string | null {
  if (url.protocol !== "http:" && url.protocol !== "https:") return `only http and https URLs (not ${url.protocol})`;
  if (url.username || url.password) return "URLs with credentials";
  return allowlistRefusal(url, allowedHosts);
}

/** GET `url`, connecting only to `target` (already checked): the default Connector. */
export function requestPinned(
  url: URL,
  target: ResolvedAddress[],
  signal: AbortSignal,
  spec?: RequestSpec,
): Promise<IncomingMessage> {
  // Node asks with {all:true} when it races address families; answer in either form, only with checked addresses.
  const pinned = ((_host, opts, cb) => {
    if (opts.all) (cb as (e: null, a: ResolvedAddress[]) => void)(null, target);
    else cb(null, target[0]!.address, target[0]!.family);
  }) as LookupFunction;
  const mod = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, {
      method: spec?.method ?? "GET",
      headers: spec?.headers ?? {
        accept: "text/html, text/plain, application/json;q=0.9, */*;q=0.5",
        "user-agent": "clawgate-http.fetch",
      },
      lookup: pinned,
      agent: false,
      signal,
    });
    req.on("response", resolve);
    req.on("error", reject);
    req.end(spec?.body);
  });
}

async function readBody(url: URL, res: IncomingMessage, maxBytes: number): Promise<SkillResult> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let truncated = false;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    const room = maxBytes - bytes;
    if (chunk.length > room) {
      chunks.push(chunk.subarray(0, room));
      bytes = maxBytes;
      truncated = true;
      break;
    }
    chunks.push(chunk);
    bytes += chunk.length;
  }
  // Stop the transfer: whatever is left is never read.
  res.destroy();
  const status = res.statusCode ?? 0;
  const contentType = String(res.headers["content-type"] ?? "");
  if (status < 200 || status >= 300)
    return fail(`${url.host} answered HTTP ${status}`, status === 429 || status >= 500);
  const text = toText(Buffer.concat(chunks).toString("utf8"), contentType);
  const excerpt = text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text;
  return {
    ok: true,
    content: `${url.href} (HTTP ${status}${truncated ? ", truncated" : ""}):\n${excerpt}`,
    data: { url: url.href, status, contentType, bytes, truncated },
  };
}

function toText(body: string, contentType: string): string {
  if (!/html|xml/i.test(contentType)) return body.trim();
  return body
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, " ")
    .replace(/<[^>]+>/g, " ")
    .replace(/&nbsp;/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")
    .replace(/\s+/g, " ")
    .trim();
}

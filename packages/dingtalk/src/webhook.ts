/** Replying through a message's `sessionWebhook` (shared/notes/dingtalk-protocol.md §1, §4). */
import { DingTalkApiError, isRecord, postJson } from "./http.ts";
import { type OutboundMessage } from "./replies.ts";

/** 410100: over 20 messages a minute (§4); 130101: DingTalk's "sending too fast". */
const THROTTLE_ERRCODES = new Set([410100, 130101]);

/** The caller checks the URL's host against its allowlist and the expiry before calling. */
export async function postSessionWebhook(
  url: string,
  message: OutboundMessage,
  opts: { fetch?: typeof fetch; timeoutMs?: number } = {},
): Promise<void> {
  const res = await postJson(opts.fetch ?? fetch, url, message, { timeoutMs: opts.timeoutMs });
  const body = isRecord(res.body) ? res.body : {};
  // A body without errcode counts as success: only an explicit non-zero errcode is a failure.
  const errcode = body.errcode === undefined ? 0 : Number(body.errcode);
  if (res.status >= 200 && res.status < 300 && errcode === 0) return;
  const errmsg = typeof body.errmsg === "string" ? `: ${body.errmsg}` : "";
  throw new DingTalkApiError(
    `sessionWebhook returned HTTP ${res.status}, errcode ${String(body.errcode ?? "none")}${errmsg}`,
    {
      status: res.status,
      code: body.errcode === undefined ? undefined : String(body.errcode),
      throttled: res.status === 429 || THROTTLE_ERRCODES.has(errcode),
    },
  );
}

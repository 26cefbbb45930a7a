/**
 * `clawgate say --conversation <id|demo> "text"`: talk to the robot through the fake DingTalk
 * (`npm start` runs it): the fake delivers the message like DingTalk would and returns the
 * replies the runtime sent back.
 */
import { envOrExit } from "./env-or-exit.ts";

export const DEMO_CONVERSATION = "cid-demo-group";

interface SayReply {
  via: string;
  text: string;
}

export async function say(
  text: string,
  opts: { conversation: string; via?: string; timeout?: string },
): Promise<number> {
  const { DINGTALK_FAKE_URL: base } = envOrExit(["DINGTALK_FAKE_URL"]);
  const conversationId = opts.conversation === "demo" ? DEMO_CONVERSATION : opts.conversation;
  const timeoutMs = Number(opts.timeout ?? 30_000);
  const url = new URL("/_fake/say", base).toString();
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ conversationId, text, via: opts.via, timeoutMs }),
      signal: AbortSignal.timeout(timeoutMs + 5_000),
    });
  } catch {
    console.error(
      `clawgate say: the fake DingTalk is not running at ${base} (start everything with \`npm start\`, or set DINGTALK_FAKE_URL).`,
    );
    return 1;
  }
  const body = (await res.json().catch(() => ({}))) as { status?: number; replies?: SayReply[]; message?: string };
  if (!res.ok) {
    console.error(`clawgate say: the fake DingTalk answered HTTP ${res.status}: ${body.message ?? "no details"}`);
    return 1;
  }
  if (body.status !== undefined && body.status !== 0 && (body.status < 200 || body.status > 299)) {
    console.error(
      `clawgate say: the runtime answered the callback with HTTP ${body.status} (is \`clawgate serve\` running and ready?)`,
    );
    return 1;
  }
  const replies = body.replies ?? [];
  if (replies.length === 0) {
    console.error(`clawgate say: no reply within ${timeoutMs} ms (is the runtime's worker running? see /ready)`);
    return 1;
  }
  for (const reply of replies) console.log(`robot (${reply.via}): ${reply.text}`);
  return 0;
}

/**
 * `clawgate say --conversation <id|demo> "text"`: talk to the robot through the fake DingTalk
 * (`npm start` runs it): the fake delivers the message like DingTalk would and returns the
 * replies the runtime sent back, and the approval cards it posted meanwhile.
 * `clawgate click <request-id> approve|reject --as <dingtalk userId>`: click a button on an
 * approval card as that DingTalk user (a signed card callback, the way DingTalk sends it).
 */
import { envOrExit } from "./env-or-exit.ts";

export const DEMO_CONVERSATION = "cid-demo-group";

interface SayReply {
  via: string;
  text: string;
}

interface FakeCard {
  outTrackId: string;
  spaces: string[];
  params: Record<string, string>;
}

async function fakeCards(base: string): Promise<FakeCard[]> {
  const res = await fetch(new URL("/_fake/cards", base)).catch(() => undefined);
  if (!res?.ok) return [];
  return ((await res.json()) as { cards: FakeCard[] }).cards;
}

const chatOf = (space: string) => space.replace(/^dtv1\.card\/\/IM_(GROUP|ROBOT)\./, "");

export async function say(
  text: string,
  opts: { conversation: string; via?: string; timeout?: string; as?: string },
): Promise<number> {
  const { DINGTALK_FAKE_URL: base } = envOrExit(["DINGTALK_FAKE_URL"]);
  const conversationId = opts.conversation === "demo" ? DEMO_CONVERSATION : opts.conversation;
  const timeoutMs = Number(opts.timeout ?? 30_000);
  const url = new URL("/_fake/say", base).toString();
  const cardsBefore = new Set((await fakeCards(base)).map((c) => c.outTrackId));
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ conversationId, text, via: opts.via, timeoutMs, senderId: opts.as }),
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
  // An action that waits for approval: its card goes to the approver chats (approvals.dingtalk_cards on).
  let cards: FakeCard[] = [];
  if (replies.some((r) => r.text.includes("waits for approval"))) {
    for (const until = Date.now() + 5_000; cards.length === 0 && Date.now() < until;) {
      cards = (await fakeCards(base)).filter((c) => !cardsBefore.has(c.outTrackId));
      if (cards.length === 0) await new Promise((r) => setTimeout(r, 250));
    }
  }
  for (const card of cards) {
    console.log(
      `approval card in ${card.spaces.map(chatOf).join(", ")}: ${card.params.title ?? ""} by ${card.params.requester ?? "?"}: ${card.params.statusText ?? ""}`,
    );
    console.log(
      `  approve it as an approver: npx clawgate click ${card.outTrackId} approve --as <their DingTalk userId>`,
    );
  }
  return 0;
}

export async function click(
  requestId: string,
  action: string,
  opts: { as: string; timeout?: string },
): Promise<number> {
  const { DINGTALK_FAKE_URL: base } = envOrExit(["DINGTALK_FAKE_URL"]);
  if (action !== "approve" && action !== "reject") {
    console.error(`clawgate click: the action is approve or reject, not "${action}"`);
    return 2;
  }
  const timeoutMs = Number(opts.timeout ?? 30_000);
  let res: Response;
  try {
    res = await fetch(new URL("/_fake/card/click", base), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ outTrackId: requestId, userId: opts.as, action }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch {
    console.error(`clawgate click: the fake DingTalk is not running at ${base} (start everything with \`npm start\`).`);
    return 1;
  }
  const body = (await res.json().catch(() => ({}))) as {
    status?: number;
    message?: string;
    response?: { userPrivateData?: { cardParamMap?: { message?: string } } };
  };
  if (!res.ok) {
    console.error(`clawgate click: ${body.message ?? `HTTP ${res.status}`}`);
    return 1;
  }
  if (body.status && (body.status < 200 || body.status > 299)) {
    console.error(`clawgate click: the runtime answered the card callback with HTTP ${body.status}`);
    return 1;
  }
  console.log(`card (to ${opts.as}): ${body.response?.userPrivateData?.cardParamMap?.message ?? "(no message)"}`);
  // What everyone sees once the runtime has acted on it.
  const start = (await fakeCards(base)).find((c) => c.outTrackId === requestId)?.params.statusText;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const card = (await fakeCards(base)).find((c) => c.outTrackId === requestId);
    const status = card?.params.status;
    if (card && card.params.statusText !== start && status !== "APPROVED") {
      console.log(`card (everyone): ${card.params.statusText}`);
      return 0;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  console.log(`card (everyone): ${start ?? "unchanged"}`);
  return 0;
}

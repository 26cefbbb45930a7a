/**
 * The fake DingTalk as a process: `node --import tsx packages/devstack/src/fake-dingtalk-server.ts`.
 * Env: FAKE_DINGTALK_PORT (default PORTS.fakeDingtalk), DINGTALK_APP_KEY, DINGTALK_APP_SECRET
 * (the runtime's), FAKE_DINGTALK_CALLBACK_URL (HTTP-mode target, default the local runtime's
 * /dingtalk/robot), FAKE_DINGTALK_CARD_CALLBACK_URL + DINGTALK_CARD_CALLBACK_SECRET (where HTTP-mode
 * card clicks go, signed, until the runtime registers its own). Talk to the robot with
 * `npx clawgate say --conversation demo "hello"`; click a card with `npx clawgate say --click`.
 */
import { startFakeDingTalk } from "./fake-dingtalk.ts";
import { PORTS } from "./ports.ts";

const appKey = process.env.DINGTALK_APP_KEY;
const appSecret = process.env.DINGTALK_APP_SECRET;
if (!appKey || !appSecret) {
  console.error(
    "[fake-dingtalk] DINGTALK_APP_KEY and DINGTALK_APP_SECRET are required (the runtime's app credentials)",
  );
  process.exit(1);
}
const port = Number(process.env.FAKE_DINGTALK_PORT ?? PORTS.fakeDingtalk);
const callbackUrl = process.env.FAKE_DINGTALK_CALLBACK_URL ?? `http://127.0.0.1:${PORTS.runtime}/dingtalk/robot`;

const cardUrl = process.env.FAKE_DINGTALK_CARD_CALLBACK_URL;
const cardSecret = process.env.DINGTALK_CARD_CALLBACK_SECRET;
const fake = await startFakeDingTalk({
  port,
  appKey,
  appSecret,
  callbackUrl,
  ...(cardUrl && cardSecret ? { cardCallback: { url: cardUrl, apiSecret: cardSecret } } : {}),
});
console.log(
  `[fake-dingtalk] fake DingTalk ready at ${fake.url} (robot ${appKey}, HTTP-mode callbacks to ${callbackUrl})`,
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void fake.close().then(() => process.exit(0));
  });
}

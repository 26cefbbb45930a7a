/**
 * Outbound message JSON (shared/notes/dingtalk-protocol.md §1) for the HTTP response body and
 * sessionWebhook, and its mapping to the OpenAPI robot send's msgKey/msgParam (§5).
 */

export interface AtTargets {
  atUserIds?: string[];
  atMobiles?: string[];
  isAtAll?: boolean;
}

export interface ActionCardButton {
  title: string;
  actionURL: string;
}

/** Either the single-button fields or `btns`; buttons open URLs. */
export interface ActionCard {
  title: string;
  text: string;
  singleTitle?: string;
  singleURL?: string;
  btnOrientation?: "0" | "1";
  btns?: ActionCardButton[];
}

export type OutboundMessage =
  | { msgtype: "text"; text: { content: string }; at?: AtTargets }
  | { msgtype: "markdown"; markdown: { title: string; text: string }; at?: AtTargets }
  | { msgtype: "actionCard"; actionCard: ActionCard };

/** To @ someone DingTalk also needs `@userId` in the content itself. */
export function textReply(content: string, at?: AtTargets): OutboundMessage {
  return { msgtype: "text", text: { content }, ...(at ? { at } : {}) };
}

export function markdownReply(title: string, text: string, at?: AtTargets): OutboundMessage {
  return { msgtype: "markdown", markdown: { title, text }, ...(at ? { at } : {}) };
}

/** One button becomes the single-button form, several become `btns`. */
export function actionCardReply(card: ActionCard): OutboundMessage;
export function actionCardReply(title: string, text: string, buttons: ActionCardButton[]): OutboundMessage;
export function actionCardReply(
  cardOrTitle: ActionCard | string,
  text = "",
  buttons: ActionCardButton[] = [],
): OutboundMessage {
  if (typeof cardOrTitle !== "string") return { msgtype: "actionCard", actionCard: cardOrTitle };
  const [only] = buttons;
  const actionCard: ActionCard =
    buttons.length === 1 && only
      ? { title: cardOrTitle, text, singleTitle: only.title, singleURL: only.actionURL }
      : { title: cardOrTitle, text, btnOrientation: "0", btns: buttons };
  return { msgtype: "actionCard", actionCard };
}

/** The OpenAPI rejects a msgParam over this many UTF-8 bytes. */
export const MSG_PARAM_MAX_BYTES = 15_000;

export interface OpenApiMessage {
  msgKey: "sampleText" | "sampleMarkdown" | "sampleActionCard";
  msgParam: string;
}

export function toOpenApiMessage(msg: OutboundMessage): OpenApiMessage {
  const mapped = mapMessage(msg);
  const bytes = Buffer.byteLength(mapped.msgParam, "utf8");
  if (bytes > MSG_PARAM_MAX_BYTES)
    throw new RangeError(`msgParam is ${bytes} bytes; DingTalk accepts at most ${MSG_PARAM_MAX_BYTES}`);
  return mapped;
}

function mapMessage(msg: OutboundMessage): OpenApiMessage {
  switch (msg.msgtype) {
    case "text":
      return { msgKey: "sampleText", msgParam: JSON.stringify({ content: msg.text.content }) };
    case "markdown":
      return {
        msgKey: "sampleMarkdown",
        msgParam: JSON.stringify({ title: msg.markdown.title, text: msg.markdown.text }),
      };
    case "actionCard": {
      const { title, text, singleTitle, singleURL, btns } = msg.actionCard;
      if (singleTitle !== undefined && singleURL !== undefined) {
        return { msgKey: "sampleActionCard", msgParam: JSON.stringify({ title, text, singleTitle, singleURL }) };
      }
      // sampleActionCard has one button and the multi-button keys are not in our protocol notes;
      // markdown links keep every button usable.
      const links = (btns ?? []).map((b) => `- [${b.title}](${b.actionURL})`).join("\n");
      return {
        msgKey: "sampleMarkdown",
        msgParam: JSON.stringify({ title, text: links ? `${text}\n\n${links}` : text }),
      };
    }
  }
}

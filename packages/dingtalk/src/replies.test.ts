import { describe, expect, it } from "vitest";
import { actionCardReply, markdownReply, MSG_PARAM_MAX_BYTES, textReply, toOpenApiMessage } from "./replies.ts";

describe("reply builders", () => {
  it("build the documented message JSON", () => {
    expect(textReply("hi")).toEqual({ msgtype: "text", text: { content: "hi" } });
    expect(textReply("@u1 hi", { atUserIds: ["u1"], isAtAll: false })).toEqual({
      msgtype: "text",
      text: { content: "@u1 hi" },
      at: { atUserIds: ["u1"], isAtAll: false },
    });
    expect(markdownReply("T", "**b**")).toEqual({ msgtype: "markdown", markdown: { title: "T", text: "**b**" } });
    expect(markdownReply("T", "x", { atMobiles: ["138"] })).toMatchObject({ at: { atMobiles: ["138"] } });
  });

  it("build single- and multi-button action cards", () => {
    expect(actionCardReply("Approve?", "body", [{ title: "Open", actionURL: "https://c/x" }])).toEqual({
      msgtype: "actionCard",
      actionCard: { title: "Approve?", text: "body", singleTitle: "Open", singleURL: "https://c/x" },
    });
    const two = [
      { title: "Yes", actionURL: "https://c/y" },
      { title: "No", actionURL: "https://c/n" },
    ];
    expect(actionCardReply("Q", "t", two)).toEqual({
      msgtype: "actionCard",
      actionCard: { title: "Q", text: "t", btnOrientation: "0", btns: two },
    });
    const card = { title: "Q", text: "t", singleTitle: "Go", singleURL: "https://c", btnOrientation: "1" as const };
    expect(actionCardReply(card)).toEqual({ msgtype: "actionCard", actionCard: card });
  });

  it("serialise to the JSON DingTalk documents", () => {
    expect(JSON.parse(JSON.stringify(textReply("a")))).toEqual({ msgtype: "text", text: { content: "a" } });
  });
});

describe("toOpenApiMessage", () => {
  it("maps text to sampleText {content}", () => {
    const m = toOpenApiMessage(textReply("你好", { atUserIds: ["u"] }));
    expect(m.msgKey).toBe("sampleText");
    expect(JSON.parse(m.msgParam)).toEqual({ content: "你好" });
  });

  it("maps markdown to sampleMarkdown {title, text}", () => {
    const m = toOpenApiMessage(markdownReply("Title", "# h"));
    expect(m).toEqual({ msgKey: "sampleMarkdown", msgParam: JSON.stringify({ title: "Title", text: "# h" }) });
  });

  it("maps a single-button action card to sampleActionCard", () => {
    const m = toOpenApiMessage(actionCardReply("Approve", "details", [{ title: "Open", actionURL: "https://c/a/1" }]));
    expect(m.msgKey).toBe("sampleActionCard");
    expect(JSON.parse(m.msgParam)).toEqual({
      title: "Approve",
      text: "details",
      singleTitle: "Open",
      singleURL: "https://c/a/1",
    });
  });

  it("keeps every button of a multi-button card as a markdown link", () => {
    const m = toOpenApiMessage(
      actionCardReply("Q", "pick", [
        { title: "Yes", actionURL: "https://c/y" },
        { title: "No", actionURL: "https://c/n" },
      ]),
    );
    expect(m.msgKey).toBe("sampleMarkdown");
    expect(JSON.parse(m.msgParam)).toEqual({ title: "Q", text: "pick\n\n- [Yes](https://c/y)\n- [No](https://c/n)" });
  });

  it("accepts exactly 15,000 bytes of msgParam and throws above", () => {
    const overhead = JSON.stringify({ content: "" }).length;
    expect(Buffer.byteLength(toOpenApiMessage(textReply("a".repeat(MSG_PARAM_MAX_BYTES - overhead))).msgParam)).toBe(
      15_000,
    );
    expect(() => toOpenApiMessage(textReply("a".repeat(MSG_PARAM_MAX_BYTES - overhead + 1)))).toThrow(RangeError);
    // Bytes, not characters: 5,000 CJK characters are 15,000 UTF-8 bytes before the JSON wrapper.
    expect(() => toOpenApiMessage(textReply("中".repeat(5_000)))).toThrow(/15000/);
  });
});

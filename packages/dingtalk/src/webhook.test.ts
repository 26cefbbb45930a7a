import { afterEach, describe, expect, it } from "vitest";
import { DingTalkApiError } from "./http.ts";
import { textReply } from "./replies.ts";
import { json, startTestServer, type TestServer } from "./test-server.ts";
import { postSessionWebhook } from "./webhook.ts";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function webhookAnswering(status: number, body?: unknown) {
  server = await startTestServer((_req, res) =>
    body === undefined ? res.writeHead(status).end() : json(res, status, body),
  );
  return `${server.url}/robot/sendBySession?session=s3cret`;
}

describe("postSessionWebhook", () => {
  it("posts the message JSON and resolves on errcode 0", async () => {
    const url = await webhookAnswering(200, { errcode: 0, errmsg: "ok" });
    await postSessionWebhook(url, textReply("hello"));
    expect(server!.requests).toEqual([
      expect.objectContaining({
        method: "POST",
        path: "/robot/sendBySession?session=s3cret",
        body: { msgtype: "text", text: { content: "hello" } },
      }),
    ]);
    expect(server!.requests[0]!.headers["content-type"]).toBe("application/json");
  });

  it.each([
    ["errcode 310000", 200, { errcode: 310000, errmsg: "keywords not in content" }, "310000", false],
    ["errcode 410100 (throttled)", 200, { errcode: 410100, errmsg: "send too fast" }, "410100", true],
    ["errcode 130101 (throttled)", 200, { errcode: 130101, errmsg: "send too fast" }, "130101", true],
    ["HTTP 429", 429, undefined, undefined, true],
    ["HTTP 500", 500, { errcode: -1, errmsg: "busy" }, "-1", false],
  ])("rejects %s", async (_name, status, body, code, throttled) => {
    const url = await webhookAnswering(status, body);
    const error = await postSessionWebhook(url, textReply("x")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DingTalkApiError);
    expect(error).toMatchObject({ status, code, throttled });
    // The session token in the URL is a credential: it never reaches the message.
    expect((error as Error).message).not.toContain("s3cret");
  });

  it("honours the timeout", async () => {
    server = await startTestServer(() => undefined);
    await expect(
      postSessionWebhook(`${server.url}/robot/sendBySession?session=x`, textReply("x"), { timeoutMs: 100 }),
    ).rejects.toMatchObject({ code: "timeout", status: 0 });
  });
});

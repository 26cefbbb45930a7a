import { afterEach, describe, expect, it } from "vitest";
import { DingTalkApiError } from "./http.ts";
import { DingTalkOpenApi, TOKEN_REFRESH_EARLY_MS } from "./openapi.ts";
import { markdownReply, textReply } from "./replies.ts";
import { json, startTestServer, type Handler, type TestServer } from "./test-server.ts";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const creds = { appKey: "dingkey", appSecret: "dingsecret" };

/** A fake DingTalk: tokens tok-1, tok-2, ...; sends answered by `onSend`. */
async function fakeDingTalk(
  onSend: Handler = (_req, res) => json(res, 200, { processQueryKey: "pqk-1" }),
  tokenDelayMs = 0,
) {
  let issued = 0;
  server = await startTestServer(async (req, res) => {
    if (req.path === "/v1.0/oauth2/accessToken") {
      await new Promise((r) => setTimeout(r, tokenDelayMs));
      return json(res, 200, { accessToken: `tok-${++issued}`, expireIn: 7200 });
    }
    return onSend(req, res);
  });
  return server;
}

const tokenRequests = (s: TestServer) => s.requests.filter((r) => r.path === "/v1.0/oauth2/accessToken");

describe("DingTalkOpenApi", () => {
  it("fetches the token with appKey/appSecret once and caches it", async () => {
    const s = await fakeDingTalk();
    const api = new DingTalkOpenApi({ ...creds, baseUrl: s.url + "/" });
    expect(await api.accessToken()).toBe("tok-1");
    expect(await api.accessToken()).toBe("tok-1");
    expect(tokenRequests(s)).toHaveLength(1);
    expect(tokenRequests(s)[0]).toMatchObject({
      method: "POST",
      body: creds,
      headers: { "content-type": "application/json" },
    });
  });

  it("shares one token request between concurrent callers", async () => {
    const s = await fakeDingTalk(undefined, 50);
    const api = new DingTalkOpenApi({ ...creds, baseUrl: s.url });
    const tokens = await Promise.all(Array.from({ length: 10 }, () => api.accessToken()));
    expect(new Set(tokens)).toEqual(new Set(["tok-1"]));
    expect(tokenRequests(s)).toHaveLength(1);
  });

  it("refreshes the token 5 minutes before it expires", async () => {
    const s = await fakeDingTalk();
    let clock = 1_000_000;
    const api = new DingTalkOpenApi({ ...creds, baseUrl: s.url, now: () => clock });
    expect(await api.accessToken()).toBe("tok-1");
    clock += 7200_000 - TOKEN_REFRESH_EARLY_MS - 1;
    expect(await api.accessToken()).toBe("tok-1");
    clock += 1;
    expect(await api.accessToken()).toBe("tok-2");
    expect(tokenRequests(s)).toHaveLength(2);
  });

  it("sends to a group: path, token header and body", async () => {
    const s = await fakeDingTalk();
    const api = new DingTalkOpenApi({ ...creds, baseUrl: s.url });
    const result = await api.sendToGroup({
      robotCode: "dingkey",
      openConversationId: "cid1",
      message: markdownReply("T", "**x**"),
    });
    expect(result).toEqual({ processQueryKey: "pqk-1" });
    const send = s.requests.at(-1)!;
    expect(send.path).toBe("/v1.0/robot/groupMessages/send");
    expect(send.headers["x-acs-dingtalk-access-token"]).toBe("tok-1");
    expect(send.body).toEqual({
      robotCode: "dingkey",
      openConversationId: "cid1",
      msgKey: "sampleMarkdown",
      msgParam: JSON.stringify({ title: "T", text: "**x**" }),
    });
  });

  it("sends one-to-one: path, token header and body", async () => {
    const s = await fakeDingTalk();
    const api = new DingTalkOpenApi({ ...creds, baseUrl: s.url });
    await api.sendToUsers({ robotCode: "dingkey", userIds: ["u1", "u2"], message: textReply("hi") });
    await api.sendToUsers({ robotCode: "dingkey", userIds: ["u3"], message: textReply("again") });
    const sends = s.requests.filter((r) => r.path === "/v1.0/robot/oToMessages/batchSend");
    expect(sends).toHaveLength(2);
    expect(sends[0]!.headers["x-acs-dingtalk-access-token"]).toBe("tok-1");
    expect(sends[0]!.body).toEqual({
      robotCode: "dingkey",
      userIds: ["u1", "u2"],
      msgKey: "sampleText",
      msgParam: '{"content":"hi"}',
    });
    expect(tokenRequests(s)).toHaveLength(1);
  });

  it.each([
    ["HTTP 429", 429, { code: "Throttling", message: "slow down" }, true],
    ["send.too.fast", 400, { code: "send.too.fast", message: "too fast" }, true],
    ["send.byToken.tooFast", 403, { code: "send.byToken.tooFast" }, true],
    ["a plain 400", 400, { code: "invalidParameter.openConversationId", message: "bad cid" }, false],
    ["a 500 without a body", 500, undefined, false],
  ])("turns %s into DingTalkApiError with the right throttled flag", async (_name, status, body, throttled) => {
    const s = await fakeDingTalk((_req, res) => (body ? json(res, status, body) : res.writeHead(status).end()));
    const api = new DingTalkOpenApi({ ...creds, baseUrl: s.url });
    const error = await api
      .sendToGroup({ robotCode: "r", openConversationId: "c", message: textReply("x") })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DingTalkApiError);
    expect(error).toMatchObject({ status, throttled, code: body?.code });
  });

  it("drops a token DingTalk rejects so the next send fetches a fresh one", async () => {
    let rejectOnce = true;
    const s = await fakeDingTalk((_req, res) => {
      if (rejectOnce) {
        rejectOnce = false;
        return json(res, 401, { code: "InvalidAuthentication", message: "bad token" });
      }
      json(res, 200, {});
    });
    const api = new DingTalkOpenApi({ ...creds, baseUrl: s.url });
    const send = () => api.sendToGroup({ robotCode: "r", openConversationId: "c", message: textReply("x") });
    await expect(send()).rejects.toMatchObject({ status: 401, throttled: false });
    await expect(send()).resolves.toEqual({});
    expect(s.requests.at(-1)!.headers["x-acs-dingtalk-access-token"]).toBe("tok-2");
  });

  it("fails the token request clearly on bad credentials and does not cache the failure", async () => {
    let fail = true;
    server = await startTestServer((_req, res) =>
      fail ? json(res, 400, { code: "invalidClientId" }) : json(res, 200, { accessToken: "ok", expireIn: 7200 }),
    );
    const api = new DingTalkOpenApi({ ...creds, baseUrl: server.url });
    await expect(api.accessToken()).rejects.toMatchObject({
      name: "DingTalkApiError",
      status: 400,
      code: "invalidClientId",
    });
    fail = false;
    await expect(api.accessToken()).resolves.toBe("ok");
  });

  it("honours the timeout", async () => {
    server = await startTestServer(() => undefined); // never answers
    const api = new DingTalkOpenApi({ ...creds, baseUrl: server.url, timeoutMs: 100 });
    const started = Date.now();
    await expect(api.accessToken()).rejects.toMatchObject({
      name: "DingTalkApiError",
      status: 0,
      code: "timeout",
      throttled: false,
    });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("refuses an oversized message before any request", async () => {
    const s = await fakeDingTalk();
    const api = new DingTalkOpenApi({ ...creds, baseUrl: s.url });
    await expect(
      api.sendToGroup({ robotCode: "r", openConversationId: "c", message: textReply("x".repeat(16_000)) }),
    ).rejects.toThrow(RangeError);
    expect(s.requests).toHaveLength(0);
  });
});

/** The DingTalk provider's own requests against the fake DingTalk, which speaks DingTalk's protocol. */
import type { TokenSet } from "next-auth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// Relative imports, as in vitest.config.ts: the console does not depend on devstack.
import { DEMO_DINGTALK_USERS } from "@clawgate/devstack/fake-dingtalk-oauth";
import { startFakeDingTalk, type FakeDingTalk } from "@clawgate/devstack/fake-dingtalk";
import { dingtalkProvider, type DingTalkProfile } from "./dingtalk-oauth.ts";

const CLIENT = { clientId: "dingtestappkey", clientSecret: "test-app-secret-0123456789" };
const REDIRECT = "http://localhost:3999/api/auth/callback/dingtalk";

let fake: FakeDingTalk;
beforeAll(async () => {
  fake = await startFakeDingTalk({
    port: 0,
    appKey: CLIENT.clientId,
    appSecret: CLIENT.clientSecret,
    pingIntervalMs: 0,
  });
});
afterAll(() => fake.close());

const provider = (secret = CLIENT.clientSecret) =>
  dingtalkProvider({ clientId: CLIENT.clientId, clientSecret: secret, loginBase: fake.url, apiBase: fake.url });

// The provider's request hooks, typed as next-auth calls them (it passes more than they read).
type TokenRequest = (ctx: { params: Record<string, unknown> }) => Promise<{ tokens: TokenSet }>;
type UserRequest = (ctx: { tokens: TokenSet }) => Promise<DingTalkProfile>;
const tokenRequest = (p = provider()) => (p.token as { request: TokenRequest }).request;
const userRequest = (p = provider()) => (p.userinfo as { request: UserRequest }).request;

/** A user's consent on the fake's page: the authCode DingTalk puts on the redirect. */
async function authCode(unionId: string): Promise<string> {
  const form = new URLSearchParams({
    client_id: CLIENT.clientId,
    redirect_uri: REDIRECT,
    response_type: "code",
    scope: "openid",
    state: "s",
    unionId,
  });
  const res = await fetch(`${fake.url}/oauth2/auth/approve`, { method: "POST", body: form, redirect: "manual" });
  return new URL(res.headers.get("location")!).searchParams.get("authCode")!;
}

describe("DingTalk OAuth provider", () => {
  it("authorizes at DingTalk's login page with the documented parameters", () => {
    const p = provider();
    expect(p).toMatchObject({ id: "dingtalk", type: "oauth", checks: ["state"] });
    expect(p.authorization).toEqual({
      url: `${fake.url}/oauth2/auth`,
      params: { response_type: "code", scope: "openid", prompt: "consent" },
    });
  });

  it("exchanges the authCode for a user token and reads the user, keyed on unionId", async () => {
    const approver = DEMO_DINGTALK_USERS[0]!;
    const { tokens } = await tokenRequest()({ params: { code: await authCode(approver.unionId), state: "s" } });
    expect(tokens.access_token).toMatch(/^[0-9a-f]{32}$/);
    expect(tokens.expires_at).toBeGreaterThan(Date.now() / 1000 + 7000);

    const profile = await userRequest()({ tokens });
    expect(profile).toMatchObject({ unionId: approver.unionId, nick: approver.nick, email: approver.email });
    expect(provider().profile(profile, tokens)).toEqual({
      id: approver.unionId,
      name: approver.nick,
      email: approver.email,
      image: null,
    });
  });

  it("maps an account without email to a null email (auth.ts refuses it with a message)", async () => {
    const noEmail = DEMO_DINGTALK_USERS.find((u) => !u.email)!;
    const { tokens } = await tokenRequest()({ params: { code: await authCode(noEmail.unionId) } });
    const profile = await userRequest()({ tokens });
    expect(provider().profile(profile, tokens)).toEqual({
      id: noEmail.unionId,
      name: noEmail.nick,
      email: null,
      image: null,
    });
  });

  it("fails with DingTalk's error code, never the secret, when DingTalk refuses", async () => {
    const code = await authCode(DEMO_DINGTALK_USERS[0]!.unionId);
    const failure = tokenRequest(provider("wrong-secret"))({ params: { code } });
    await expect(failure).rejects.toThrow("DingTalk token request failed: HTTP 400 invalidClientIdOrSecret");
    await expect(tokenRequest()({ params: {} })).rejects.toThrow("DingTalk returned no authorization code");
    await expect(userRequest()({ tokens: { access_token: "expired" } })).rejects.toThrow(
      "DingTalk user request failed: HTTP 401 InvalidAuthentication",
    );
  });

  it("refuses a profile without unionId", () => {
    expect(() => provider().profile({ nick: "x" }, {})).toThrow("no unionId");
  });
});

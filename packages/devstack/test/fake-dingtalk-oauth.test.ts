/**
 * The fake DingTalk's login (OAuth 2): consent page, authCode redirect, user token, users/me,
 * over real HTTP the way a browser and the console's provider use it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { DEMO_DINGTALK_USERS } from "../src/fake-dingtalk-oauth.ts";
import { startFakeDingTalk, type FakeDingTalk, type FakeDingTalkOptions } from "../src/fake-dingtalk.ts";

const APP_KEY = "dingtestappkey";
const APP_SECRET = "test-app-secret-0123456789";
const REDIRECT = "http://localhost:3999/api/auth/callback/dingtalk";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function fake(overrides: Partial<FakeDingTalkOptions> = {}): Promise<FakeDingTalk> {
  const f = await startFakeDingTalk({
    port: 0,
    appKey: APP_KEY,
    appSecret: APP_SECRET,
    pingIntervalMs: 0,
    ...overrides,
  });
  cleanups.push(() => f.close());
  return f;
}

const authorizeParams = (extra: Record<string, string> = {}) =>
  new URLSearchParams({
    redirect_uri: REDIRECT,
    response_type: "code",
    client_id: APP_KEY,
    scope: "openid",
    state: "st-123",
    prompt: "consent",
    ...extra,
  });

/** What the consent form posts when the user picks an account (or cancels). */
async function approve(
  f: FakeDingTalk,
  choice: Record<string, string>,
  extra: Record<string, string> = {},
): Promise<Response> {
  const form = authorizeParams(extra);
  for (const [k, v] of Object.entries(choice)) form.set(k, v);
  return fetch(`${f.url}/oauth2/auth/approve`, { method: "POST", body: form, redirect: "manual" });
}

async function codeFor(f: FakeDingTalk, unionId: string): Promise<string> {
  const res = await approve(f, { unionId });
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get("location")!);
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
  expect(location.searchParams.get("state")).toBe("st-123");
  return location.searchParams.get("authCode")!;
}

const postJson = (url: string, body: unknown) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const exchange = (f: FakeDingTalk, code: string, secret = APP_SECRET) =>
  postJson(`${f.url}/v1.0/oauth2/userAccessToken`, {
    clientId: APP_KEY,
    clientSecret: secret,
    code,
    grantType: "authorization_code",
  });
const me = (f: FakeDingTalk, token: string) =>
  fetch(`${f.url}/v1.0/contact/users/me`, { headers: { "x-acs-dingtalk-access-token": token } });

describe("fake DingTalk login", () => {
  it("shows a consent page listing the accounts, whose form may redirect to the app", async () => {
    const f = await fake();
    const res = await fetch(`${f.url}/oauth2/auth?${authorizeParams()}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toContain("form-action 'self' http://localhost:3999");
    const html = await res.text();
    for (const u of DEMO_DINGTALK_USERS) expect(html).toContain(`Continue as ${u.nick}`);
    expect(html).toContain('name="state" value="st-123"');
  });

  it("runs the whole flow: authCode + state on the redirect, user token, users/me", async () => {
    const f = await fake();
    const approver = DEMO_DINGTALK_USERS[0]!;
    const code = await codeFor(f, approver.unionId);
    const tokenRes = await exchange(f, code);
    expect(tokenRes.status).toBe(200);
    const token = (await tokenRes.json()) as Record<string, unknown>;
    expect(token).toMatchObject({ expireIn: 7200 });
    expect(typeof token.accessToken).toBe("string");
    expect(typeof token.refreshToken).toBe("string");

    const user = await me(f, token.accessToken as string);
    expect(user.status).toBe(200);
    expect(await user.json()).toEqual({
      nick: approver.nick,
      avatarUrl: "",
      mobile: approver.mobile,
      openId: approver.openId,
      unionId: approver.unionId,
      email: approver.email,
      stateCode: "86",
    });
  });

  it("uses a code once, and only with the app's secret", async () => {
    const f = await fake();
    const code = await codeFor(f, DEMO_DINGTALK_USERS[0]!.unionId);
    const wrongSecret = await exchange(f, code, "not-the-secret");
    expect(wrongSecret.status).toBe(400);
    expect(await wrongSecret.json()).toMatchObject({ code: "invalidClientIdOrSecret" });
    expect((await exchange(f, code)).status).toBe(200);
    const again = await exchange(f, code);
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ code: "invalidAuthCode" });
  });

  it("returns no email for an account without one", async () => {
    const f = await fake();
    const noEmail = DEMO_DINGTALK_USERS.find((u) => !u.email)!;
    const token = (await (await exchange(f, await codeFor(f, noEmail.unionId))).json()) as { accessToken: string };
    const user = (await (await me(f, token.accessToken)).json()) as Record<string, unknown>;
    expect(user.unionId).toBe(noEmail.unionId);
    expect(user).not.toHaveProperty("email");
  });

  it("refuses users/me without a user token (an app token is not one)", async () => {
    const f = await fake();
    expect((await me(f, "nope")).status).toBe(401);
    const app = (await (
      await postJson(`${f.url}/v1.0/oauth2/accessToken`, { appKey: APP_KEY, appSecret: APP_SECRET })
    ).json()) as { accessToken: string };
    expect((await me(f, app.accessToken)).status).toBe(401);
  });

  it("answers a cancel with error=access_denied and the state", async () => {
    const f = await fake();
    const res = await approve(f, { cancel: "1" });
    const location = new URL(res.headers.get("location")!);
    expect(location.searchParams.get("error")).toBe("access_denied");
    expect(location.searchParams.get("state")).toBe("st-123");
    expect(location.searchParams.has("authCode")).toBe(false);
  });

  it("refuses an unknown client, a missing openid scope and an unregistered redirect URI", async () => {
    const f = await fake({ oauth: { redirectUris: [REDIRECT] } });
    const page = async (extra: Record<string, string>) => {
      const res = await fetch(`${f.url}/oauth2/auth?${authorizeParams(extra)}`);
      return { status: res.status, html: await res.text() };
    };
    expect(await page({ client_id: "someone-else" })).toMatchObject({
      status: 400,
      html: expect.stringContaining("unknown client_id"),
    });
    expect(await page({ scope: "profile" })).toMatchObject({
      status: 400,
      html: expect.stringContaining("scope must include openid"),
    });
    expect(await page({ redirect_uri: "https://evil.example/cb" })).toMatchObject({
      status: 400,
      html: expect.stringContaining("not registered"),
    });
    const forged = await approve(
      f,
      { unionId: DEMO_DINGTALK_USERS[0]!.unionId },
      { redirect_uri: "https://evil.example/cb" },
    );
    expect(forged.status).toBe(400);
    expect(forged.headers.get("location")).toBeNull();
  });
});

/**
 * DingTalk login as a next-auth OAuth provider. DingTalk is OAuth 2 but not OpenID Connect (no
 * discovery, no id_token, a camelCase JSON token request), so the token and user requests are
 * our own (shared/notes/dingtalk-protocol.md, section 6):
 * - authorize: {loginBase}/oauth2/auth?client_id&redirect_uri&response_type=code&scope=openid&state&prompt=consent
 * - token:     POST {apiBase}/v1.0/oauth2/userAccessToken {clientId, clientSecret, code, grantType}
 *              -> {accessToken, refreshToken, expireIn}
 * - user:      GET {apiBase}/v1.0/contact/users/me (x-acs-dingtalk-access-token)
 *              -> {nick, avatarUrl, mobile, openId, unionId, email}
 * Accounts are keyed on unionId. The tokens are used once and never stored (auth-adapter.ts).
 */
import type { OAuthConfig } from "next-auth/providers/oauth";

export interface DingTalkProfile {
  unionId?: string;
  openId?: string;
  nick?: string;
  email?: string;
  avatarUrl?: string;
  mobile?: string;
}

export interface DingTalkOAuthOptions {
  clientId: string;
  clientSecret: string;
  /** https://login.dingtalk.com */
  loginBase: string;
  /** https://api.dingtalk.com */
  apiBase: string;
  timeoutMs?: number;
}

/** DingTalk's error body: {code, message, requestid}. Only the code goes into errors (no secrets). */
async function dingtalkJson(res: Response, what: string): Promise<Record<string, unknown>> {
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok)
    throw new Error(
      `DingTalk ${what} failed: HTTP ${res.status}${typeof body.code === "string" ? ` ${body.code}` : ""}`,
    );
  return body;
}

export function dingtalkProvider(opts: DingTalkOAuthOptions): OAuthConfig<DingTalkProfile> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const tokenUrl = `${opts.apiBase}/v1.0/oauth2/userAccessToken`;
  const userUrl = `${opts.apiBase}/v1.0/contact/users/me`;
  return {
    id: "dingtalk",
    name: "DingTalk",
    type: "oauth",
    clientId: opts.clientId,
    clientSecret: opts.clientSecret,
    // DingTalk supports no PKCE; state is checked against next-auth's cookie.
    checks: ["state"],
    authorization: {
      url: `${opts.loginBase}/oauth2/auth`,
      params: { response_type: "code", scope: "openid", prompt: "consent" },
    },
    token: {
      url: tokenUrl,
      async request({ params }) {
        // DingTalk's redirect calls it `authCode`: the auth route hands it over as `code` as well.
        const code = params.code;
        if (!code) throw new Error("DingTalk returned no authorization code");
        const res = await fetch(tokenUrl, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json" },
          body: JSON.stringify({
            clientId: opts.clientId,
            clientSecret: opts.clientSecret,
            code,
            grantType: "authorization_code",
          }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        const body = await dingtalkJson(res, "token request");
        if (typeof body.accessToken !== "string" || !body.accessToken)
          throw new Error("DingTalk token response has no accessToken");
        const expireIn = typeof body.expireIn === "number" ? body.expireIn : 7200;
        return {
          tokens: {
            access_token: body.accessToken,
            token_type: "bearer",
            expires_at: Math.floor(Date.now() / 1000) + expireIn,
          },
        };
      },
    },
    userinfo: {
      url: userUrl,
      async request({ tokens }) {
        const res = await fetch(userUrl, {
          headers: { "x-acs-dingtalk-access-token": tokens.access_token ?? "", accept: "application/json" },
          signal: AbortSignal.timeout(timeoutMs),
        });
        return dingtalkJson(res, "user request");
      },
    },
    profile(profile) {
      if (!profile.unionId) throw new Error("DingTalk user has no unionId");
      const email = profile.email?.trim().toLowerCase() || null;
      return { id: profile.unionId, name: profile.nick || email || profile.unionId, email, image: null };
    },
    // Console users are keyed by email (roles, invitations): a DingTalk sign-in with the email of
    // a known user signs that user in; auth.ts refuses emails the console does not know.
    allowDangerousEmailAccountLinking: true,
  };
}

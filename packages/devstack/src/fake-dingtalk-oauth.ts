/**
 * DingTalk login (OAuth 2, not OIDC) for the fake DingTalk: the pages and endpoints of
 * shared/notes/dingtalk-protocol.md section 6, served on the fake's one port.
 *
 * - `GET  /oauth2/auth?client_id&redirect_uri&response_type=code&scope=openid&state&prompt=consent`
 *   DingTalk's login + consent page; here a list of demo accounts to continue as (no password:
 *   the real page is a QR code or DingTalk's own sign-in).
 * - `POST /oauth2/auth/approve` (the page's form) -> 302 `redirect_uri?authCode=&state=`
 *   (or `error=access_denied` when cancelled). Codes are single use, 5 minutes.
 * - `POST /v1.0/oauth2/userAccessToken` `{clientId, clientSecret, code, grantType}` ->
 *   `{accessToken, refreshToken, expireIn}`.
 * - `GET  /v1.0/contact/users/me` (`x-acs-dingtalk-access-token`) ->
 *   `{nick, avatarUrl, mobile, openId, unionId, email?, stateCode}`.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { BodyTooLargeError, readRequestText } from "./http-body.ts";

export interface FakeDingTalkUser {
  unionId: string;
  openId: string;
  nick: string;
  /** DingTalk accounts may have no email. */
  email?: string;
  mobile?: string;
}

/**
 * The fake's DingTalk accounts: one with the email of the demo APPROVER (the console signs them
 * in), one whose email the console does not know, and one without an email (both refused).
 */
export const DEMO_DINGTALK_USERS: readonly FakeDingTalkUser[] = [
  {
    unionId: "fakeUnion0001approver",
    openId: "fakeOpen0001",
    nick: "Ari Approver",
    email: "approver@clawgate.local",
    mobile: "13800000002",
  },
  {
    unionId: "fakeUnion0002stranger",
    openId: "fakeOpen0002",
    nick: "Sam Stranger",
    email: "sam@example.com",
    mobile: "13800000005",
  },
  { unionId: "fakeUnion0003noemail", openId: "fakeOpen0003", nick: "Nora NoEmail", mobile: "13800000006" },
];

export interface FakeDingTalkOAuthOptions {
  /** The app's Client ID (AppKey) and Client Secret (AppSecret). */
  clientId: string;
  clientSecret: string;
  users?: readonly FakeDingTalkUser[];
  /** Registered redirect URIs (DingTalk refuses others); default: any http(s) URL. */
  redirectUris?: readonly string[];
}

const CODE_TTL_MS = 5 * 60_000;
const TOKEN_TTL_S = 7200;
const MAX_BODY_BYTES = 16 * 1024;

const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

const STYLE = `*{box-sizing:border-box}body{margin:0;min-height:100vh;display:grid;place-items:center;background:#eef4ff;color:#0f172a;
font:15px/1.5 ui-sans-serif,system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{width:min(92vw,400px);background:#fff;border:1px solid #dbe4f3;border-radius:12px;padding:28px;box-shadow:0 1px 3px rgba(15,23,42,.08)}
h1{font-size:20px;margin:0 0 4px}p.sub{margin:0 0 18px;color:#475569;font-size:14px}
button{display:block;width:100%;margin-top:10px;padding:10px 12px;border:0;border-radius:8px;background:#1677ff;color:#fff;font:inherit;font-weight:600;text-align:left;cursor:pointer}
button:hover{background:#0958d9}button.cancel{background:#fff;color:#334155;border:1px solid #cbd5e1;text-align:center}
button:focus{outline:3px solid #93c5fd;outline-offset:1px}small{display:block;font-weight:400;opacity:.85}`;

function sendHtml(res: ServerResponse, status: number, title: string, body: string, redirectOrigin?: string): void {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escape(title)} · DingTalk (fake)</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    // The consent form posts here, and the answer redirects to the app: form-action covers both.
    "content-security-policy": `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'${redirectOrigin ? ` ${redirectOrigin}` : ""}; frame-ancestors 'none'; base-uri 'none'`,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  });
  res.end(html);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json;charset=utf-8",
    "content-length": Buffer.byteLength(payload),
  });
  res.end(payload);
}

const apiError = (res: ServerResponse, status: number, code: string, message: string) =>
  sendJson(res, status, { code, message, requestid: randomBytes(8).toString("hex").toUpperCase() });

async function readBody(req: IncomingMessage, res: ServerResponse): Promise<string | undefined> {
  try {
    return await readRequestText(req, MAX_BODY_BYTES);
  } catch (error) {
    if (error instanceof BodyTooLargeError) {
      apiError(res, 413, "RequestEntityTooLarge", "body too large");
      return undefined;
    }
    throw error;
  }
}

export interface FakeDingTalkOAuth {
  /** Serves the request when it is one of the login routes; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
}

export function createFakeDingTalkOAuth(opts: FakeDingTalkOAuthOptions): FakeDingTalkOAuth {
  const users = opts.users ?? DEMO_DINGTALK_USERS;
  const codes = new Map<string, { unionId: string; clientId: string; expiresAt: number }>();
  const tokens = new Map<string, { unionId: string; expiresAt: number }>();

  /** The authorize request's problem (shown on DingTalk's error page), or its redirect URL. */
  function checkAuthorize(params: URLSearchParams): { error: string } | { redirect: URL } {
    if (params.get("client_id") !== opts.clientId)
      return { error: `unknown client_id: ${params.get("client_id") ?? "(none)"}` };
    if (params.get("response_type") !== "code") return { error: "response_type must be code" };
    const scope = (params.get("scope") ?? "").split(/\s+/);
    if (!scope.includes("openid")) return { error: "scope must include openid" };
    let redirect: URL;
    try {
      redirect = new URL(params.get("redirect_uri") ?? "");
    } catch {
      return { error: "redirect_uri is missing or not a URL" };
    }
    if (redirect.protocol !== "http:" && redirect.protocol !== "https:")
      return { error: "redirect_uri must be http(s)" };
    if (opts.redirectUris && !opts.redirectUris.includes(redirect.toString()))
      return { error: `redirect_uri is not registered for this app: ${redirect}` };
    return { redirect };
  }

  function authorizePage(res: ServerResponse, params: URLSearchParams): void {
    const checked = checkAuthorize(params);
    if ("error" in checked)
      return sendHtml(
        res,
        400,
        "Authorization error",
        `<h1>Authorization error</h1><p class="sub" role="alert">${escape(checked.error)}</p>`,
      );
    const hidden = ["client_id", "redirect_uri", "state", "response_type", "scope"]
      .map((k) => `<input type="hidden" name="${k}" value="${escape(params.get(k) ?? "")}">`)
      .join("");
    const accounts = users
      .map(
        (u) =>
          `<button type="submit" name="unionId" value="${escape(u.unionId)}">Continue as ${escape(u.nick)}<small>${escape(u.email ?? "no email on this account")}</small></button>`,
      )
      .join("");
    sendHtml(
      res,
      200,
      "Sign in with DingTalk",
      `<h1>Sign in with DingTalk</h1><p class="sub">Fake DingTalk for the Clawgate demo. <strong>${escape(new URL(params.get("redirect_uri")!).host)}</strong> asks for your DingTalk identity (openid).</p>
<form method="post" action="/oauth2/auth/approve">${hidden}${accounts}<button type="submit" name="cancel" value="1" class="cancel">Cancel</button></form>`,
      checked.redirect.origin,
    );
  }

  async function approve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await readBody(req, res);
    if (text === undefined) return;
    const form = new URLSearchParams(text);
    const checked = checkAuthorize(form);
    if ("error" in checked)
      return sendHtml(
        res,
        400,
        "Authorization error",
        `<h1>Authorization error</h1><p class="sub" role="alert">${escape(checked.error)}</p>`,
      );
    const target = checked.redirect;
    const state = form.get("state");
    if (state !== null) target.searchParams.set("state", state);
    if (form.get("cancel")) {
      target.searchParams.set("error", "access_denied");
    } else {
      const user = users.find((u) => u.unionId === form.get("unionId"));
      if (!user)
        return sendHtml(
          res,
          400,
          "Authorization error",
          `<h1>Authorization error</h1><p class="sub" role="alert">unknown account</p>`,
        );
      const code = randomBytes(16).toString("hex");
      codes.set(code, { unionId: user.unionId, clientId: opts.clientId, expiresAt: Date.now() + CODE_TTL_MS });
      // DingTalk's docs name the code `authCode` on the redirect.
      target.searchParams.set("authCode", code);
    }
    res.writeHead(302, { location: target.toString(), "cache-control": "no-store" });
    res.end();
  }

  async function userAccessToken(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = await readBody(req, res);
    if (text === undefined) return;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
      if (!body || typeof body !== "object" || Array.isArray(body)) throw new Error("not an object");
    } catch {
      return apiError(res, 400, "InvalidParameter", "body must be a JSON object");
    }
    if (body.clientId !== opts.clientId || body.clientSecret !== opts.clientSecret)
      return apiError(res, 400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret");
    if (body.grantType !== "authorization_code")
      return apiError(res, 400, "InvalidParameter.GrantType", "grantType must be authorization_code");
    const code = typeof body.code === "string" ? codes.get(body.code) : undefined;
    if (typeof body.code === "string") codes.delete(body.code); // single use
    if (!code || code.expiresAt < Date.now() || code.clientId !== body.clientId)
      return apiError(res, 400, "invalidAuthCode", "不合法的临时授权码");
    const accessToken = randomBytes(16).toString("hex");
    tokens.set(accessToken, { unionId: code.unionId, expiresAt: Date.now() + TOKEN_TTL_S * 1000 });
    sendJson(res, 200, { accessToken, refreshToken: randomBytes(16).toString("hex"), expireIn: TOKEN_TTL_S });
  }

  function me(req: IncomingMessage, res: ServerResponse): void {
    const header = req.headers["x-acs-dingtalk-access-token"];
    const token = typeof header === "string" ? tokens.get(header) : undefined;
    if (!token || token.expiresAt < Date.now())
      return apiError(res, 401, "InvalidAuthentication", "不合法的access_token");
    const user = users.find((u) => u.unionId === token.unionId);
    if (!user) return apiError(res, 404, "user.not.found", "user not found");
    sendJson(res, 200, {
      nick: user.nick,
      avatarUrl: "",
      mobile: user.mobile ?? "",
      openId: user.openId,
      unionId: user.unionId,
      ...(user.email ? { email: user.email } : {}),
      stateCode: "86",
    });
  }

  return {
    async handle(req, res, url) {
      switch (`${req.method} ${url.pathname}`) {
        case "GET /oauth2/auth":
          authorizePage(res, url.searchParams);
          return true;
        case "POST /oauth2/auth/approve":
          await approve(req, res);
          return true;
        case "POST /v1.0/oauth2/userAccessToken":
          await userAccessToken(req, res);
          return true;
        case "GET /v1.0/contact/users/me":
          me(req, res);
          return true;
        default:
          return false;
      }
    },
  };
}

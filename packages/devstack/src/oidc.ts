/**
 * The demo identity provider: a real OpenID Connect provider (oidc-provider) on plain http for
 * localhost, with a small email + password login form. Serves discovery, authorize, token,
 * userinfo and jwks; authorization code flow with PKCE and a confidential client only.
 */
// oidc-provider ships no types: oidc-provider.d.ts declares the part used here. Referenced from this
// file, so a workspace that imports `@clawgate/devstack/oidc` typechecks with it too.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="./oidc-provider.d.ts" />
import { createHash, generateKeyPairSync, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import Provider, { type Account, type KoaContextWithOIDC } from "oidc-provider";
import { loginPage, messagePage } from "./oidc-pages.ts";
import { BodyTooLargeError, readRequestText } from "./http-body.ts";

export interface OidcClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
}

export interface OidcUser {
  email: string;
  name: string;
  password: string;
}

export interface OidcProviderOptions {
  port: number;
  /** e.g. http://localhost:3100 (no trailing slash) */
  issuer: string;
  clients: OidcClient[];
  users: OidcUser[];
  /** Shown under the login form (e.g. the demo accounts). */
  loginHint?: string;
  host?: string;
}

export interface RunningOidcProvider {
  issuer: string;
  close(): Promise<void>;
}

/** Scopes the demo IdP grants without asking: its clients are first-party. */
const GRANTED_SCOPE = "openid email profile";
const MAX_FORM_BYTES = 8 * 1024;

const sha256 = (s: string) => createHash("sha256").update(s).digest();

export function checkPassword(users: OidcUser[], email: string, password: string): OidcUser | undefined {
  const user = users.find((u) => u.email.toLowerCase() === email.trim().toLowerCase());
  // Compare digests in constant time; a missing user still costs one comparison.
  const ok = timingSafeEqual(sha256(user?.password ?? randomUUID()), sha256(password));
  return user && ok ? user : undefined;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  try {
    return new URLSearchParams(await readRequestText(req, MAX_FORM_BYTES));
  } catch (error) {
    // An oversized login form is not a browser: drop the connection.
    if (error instanceof BodyTooLargeError) req.destroy();
    throw error;
  }
}

function sendHtml(res: ServerResponse, status: number, html: string, formAction: string): void {
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    // The form posts to this origin, which then redirects to the clients: form-action covers redirects.
    "content-security-policy": `default-src 'none'; style-src 'unsafe-inline'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  });
  res.end(html);
}

export function createOidcProvider(opts: OidcProviderOptions): Provider {
  const byEmail = new Map(opts.users.map((u) => [u.email.toLowerCase(), u]));
  const clientIds = new Set(opts.clients.map((c) => c.clientId));
  const signingKey = {
    ...generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" }),
    kid: randomUUID(),
    use: "sig",
    alg: "RS256",
  };

  return new Provider(opts.issuer, {
    clients: opts.clients.map((c) => ({
      client_id: c.clientId,
      client_secret: c.clientSecret,
      redirect_uris: c.redirectUris,
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    })),
    // Demo IdP: per-process keys (a restart signs everyone out of the IdP, not of the console).
    // oidc-provider 8 (the last line that runs on Node 20) sets its session cookie SameSite=None,
    // which browsers drop without Secure (plain http on localhost): Lax, as 9 does.
    cookies: { keys: [randomBytes(32).toString("hex")], long: { sameSite: "lax" }, short: { sameSite: "lax" } },
    jwks: { keys: [signingKey] },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    // Put the scope's claims in the ID token too: the console reads its profile from the ID token.
    conformIdTokenClaims: false,
    responseTypes: ["code"],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      Interaction: 600,
      Session: 8 * 3600,
      Grant: 8 * 3600,
    },
    clientBasedCORS: () => false,
    async findAccount(_ctx: unknown, sub: string): Promise<Account | undefined> {
      const user = byEmail.get(sub);
      if (!user) return undefined;
      return { accountId: sub, claims: () => ({ sub, email: user.email, email_verified: true, name: user.name }) };
    },
    // Registered clients are first-party: consent is implied for the basic OIDC scopes.
    async loadExistingGrant(ctx: KoaContextWithOIDC & { oidc: { provider: Provider } }) {
      const { client, session, result } = ctx.oidc;
      if (!client || !session?.accountId) return undefined;
      const grantId = result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      if (!clientIds.has(client.clientId)) return undefined;
      const grant = new ctx.oidc.provider.Grant({ accountId: session.accountId, clientId: client.clientId });
      grant.addOIDCScope(GRANTED_SCOPE);
      await grant.save();
      return grant;
    },
    async renderError(ctx: KoaContextWithOIDC, out: Record<string, string>) {
      ctx.type = "html";
      ctx.body = messagePage("Sign-in error", `${out.error ?? "error"}: ${out.error_description ?? ""}`);
    },
  });
}

export async function startOidcProvider(opts: OidcProviderOptions): Promise<RunningOidcProvider> {
  const provider = createOidcProvider(opts);
  const oidcHandler = provider.callback();
  const redirectOrigins = [...new Set(opts.clients.flatMap((c) => c.redirectUris.map((u) => new URL(u).origin)))];
  const formAction = ["'self'", ...redirectOrigins].join(" ");

  async function interaction(req: IncomingMessage, res: ServerResponse, uid: string, action: string | undefined) {
    let details;
    try {
      details = await provider.interactionDetails(req, res);
    } catch {
      return sendHtml(
        res,
        400,
        messagePage(
          "Sign-in expired",
          "This sign-in attempt is no longer valid. Go back to the console and sign in again.",
        ),
        formAction,
      );
    }
    if (details.uid !== uid)
      return sendHtml(res, 400, messagePage("Sign-in error", "Interaction mismatch."), formAction);
    if (details.prompt.name !== "login") {
      return sendHtml(
        res,
        403,
        messagePage("Not allowed", `This demo identity provider only grants "${GRANTED_SCOPE}".`),
        formAction,
      );
    }
    if (req.method === "GET" && !action)
      return sendHtml(res, 200, loginPage({ uid, hint: opts.loginHint }), formAction);
    if (req.method !== "POST" || action !== "login")
      return sendHtml(res, 405, messagePage("Not allowed", "Method not allowed."), formAction);

    const form = await readForm(req);
    const email = form.get("email") ?? "";
    const user = checkPassword(opts.users, email, form.get("password") ?? "");
    if (!user)
      return sendHtml(
        res,
        401,
        loginPage({ uid, hint: opts.loginHint, email, error: "Wrong email or password." }),
        formAction,
      );
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: user.email.toLowerCase() } },
      { mergeWithLastSubmission: false },
    );
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", opts.issuer);
    const match = /^\/interaction\/([\w-]+)(?:\/(\w+))?$/.exec(url.pathname);
    if (!match) return oidcHandler(req, res);
    interaction(req, res, match[1] ?? "", match[2]).catch((error: unknown) => {
      console.error(`[oidc] interaction failed: ${(error as Error).message}`);
      if (!res.headersSent) sendHtml(res, 500, messagePage("Sign-in error", "Something went wrong."), formAction);
      else res.end();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    issuer: opts.issuer,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

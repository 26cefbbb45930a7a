import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkPassword, startOidcProvider, type RunningOidcProvider } from "./oidc.ts";

const USERS = [{ email: "ada@example.test", name: "Ada", password: "pw" }];
const CLIENT = { clientId: "console", clientSecret: "s3cret", redirectUris: ["http://localhost:9/cb"] };

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

describe("checkPassword", () => {
  it("accepts the right password, case-insensitive email", () => {
    expect(checkPassword(USERS, " ADA@example.test", "pw")?.name).toBe("Ada");
  });
  it("refuses a wrong password or an unknown user", () => {
    expect(checkPassword(USERS, "ada@example.test", "nope")).toBeUndefined();
    expect(checkPassword(USERS, "eve@example.test", "pw")).toBeUndefined();
  });
});

describe("demo OIDC provider", () => {
  let idp: RunningOidcProvider;
  let base: string;
  const jar = new Map<string, string>();
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  async function send(url: string, init: RequestInit = {}) {
    const res = await fetch(new URL(url, base), {
      ...init,
      redirect: "manual",
      headers: { ...init.headers, cookie: cookie() },
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair = ""] = c.split(";");
      const i = pair.indexOf("=");
      jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
    return res;
  }

  beforeAll(async () => {
    const port = await freePort();
    base = `http://localhost:${port}`;
    idp = await startOidcProvider({ port, issuer: base, clients: [CLIENT], users: USERS });
  });
  afterAll(() => idp.close());

  it("publishes discovery with PKCE S256 and the code flow", async () => {
    const meta = (await (await send("/.well-known/openid-configuration")).json()) as Record<string, unknown>;
    expect(meta.issuer).toBe(base);
    expect(meta.code_challenge_methods_supported).toEqual(["S256"]);
    expect(meta.response_types_supported).toEqual(["code"]);
  });

  it("refuses an authorization request without PKCE", async () => {
    const res = await send(
      `/auth?client_id=console&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(CLIENT.redirectUris[0] ?? "")}&state=s`,
    );
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toMatch(/^http:\/\/localhost:9\/cb\?error=invalid_request/);
  });

  it("signs a user in with the right password only, then issues a code", async () => {
    const verifier = randomBytes(32).toString("base64url");
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    const params = new URLSearchParams({
      client_id: "console",
      response_type: "code",
      scope: "openid email profile",
      redirect_uri: CLIENT.redirectUris[0] ?? "",
      state: "st",
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    const interaction = (await send(`/auth?${params}`)).headers.get("location") ?? "";
    expect(interaction).toMatch(/^\/interaction\//);
    expect(await (await send(interaction)).text()).toContain('name="password"');

    const post = (password: string) =>
      send(`${interaction}/login`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ email: "ada@example.test", password }).toString(),
      });
    const wrong = await post("wrong");
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain("Wrong email or password.");

    const ok = await post("pw");
    expect(ok.status).toBe(303);
    const back = await send(ok.headers.get("location") ?? "");
    const callback = new URL(back.headers.get("location") ?? "", base);
    expect(callback.origin + callback.pathname).toBe(CLIENT.redirectUris[0]);
    expect(callback.searchParams.get("state")).toBe("st");
    expect(callback.searchParams.get("code")).toBeTruthy();
  });
});

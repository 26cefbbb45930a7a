/**
 * POST /api/break-glass (the form on /break-glass/<token>): uses a one-time link made by
 * `clawgate break-glass`. It needs no identity provider: core marks the grant used (once, atomically)
 * and makes a database session that ends with the grant; this sets next-auth's session cookie. A
 * refused link goes back to its page, which says why; nothing changes.
 */
import { redeemBreakGlass } from "@clawgate/core/break-glass.ts";
import { consoleDb } from "~/server/db.ts";
import { env } from "~/env.ts";
import { clientIp } from "~/server/rate-limit.ts";

const see = (path: string) =>
  new Response(null, {
    status: 303,
    headers: { location: new URL(path, env.NEXTAUTH_URL).toString(), "cache-control": "no-store" },
  });

export async function POST(req: Request): Promise<Response> {
  // The console's own page only (a form from another site would sign the browser in as someone else).
  // The browser's own word first (Sec-Fetch-Site cannot be set by a page); Origin when it gives none.
  const site = req.headers.get("sec-fetch-site");
  const origin = req.headers.get("origin");
  const crossSite =
    site !== null ? site !== "same-origin" : origin !== null && origin !== new URL(env.NEXTAUTH_URL).origin;
  if (crossSite) return new Response("Refused: cross-origin request.", { status: 403 });
  const form = await req.formData().catch(() => null);
  const token = form?.get("token");
  if (typeof token !== "string" || !/^[\w-]{20,100}$/.test(token)) return see("/break-glass/invalid");

  const result = await redeemBreakGlass(consoleDb(), token, {
    ip: clientIp(req.headers, env.TRUSTED_PROXY_HOPS),
    userAgent: req.headers.get("user-agent")?.slice(0, 300) ?? null,
  });
  if (!result.ok) return see(`/break-glass/${token}`);

  const secure = env.NEXTAUTH_URL.startsWith("https://");
  const cookie = [
    `${secure ? "__Secure-" : ""}next-auth.session-token=${result.sessionToken}`,
    "Path=/",
    "HttpOnly",
    "SameSite=Lax",
    `Expires=${result.expires.toUTCString()}`,
    ...(secure ? ["Secure"] : []),
  ].join("; ");
  const res = see(result.incidentId ? `/incidents/${result.incidentId}` : "/overview");
  res.headers.append("set-cookie", cookie);
  return res;
}

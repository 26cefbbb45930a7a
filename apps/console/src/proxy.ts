/**
 * Runs before every page: a per-request CSP nonce (Next.js puts it on its inline scripts), HSTS
 * when served over https, and a redirect to /signin when there is no session cookie at all. It
 * checks no roles and does not validate the session: pages and tRPC procedures do that.
 */
import { NextResponse, type NextRequest } from "next/server";
import { env } from "~/env.ts";
import { redirectTarget } from "~/redirect.ts";
import { contentSecurityPolicy, strictTransportSecurity } from "~/csp.ts";

const SESSION_COOKIES = ["next-auth.session-token", "__Secure-next-auth.session-token"];
const PUBLIC_PATHS = ["/signin"];
// A break-glass link (`clawgate break-glass`) is opened by someone who cannot sign in yet.
const PUBLIC_PREFIXES = ["/break-glass/"];

export function proxy(request: NextRequest) {
  const { pathname, search } = request.nextUrl;
  const signedIn = SESSION_COOKIES.some((name) => request.cookies.has(name));
  const isPublic = PUBLIC_PATHS.includes(pathname) || PUBLIC_PREFIXES.some((p) => pathname.startsWith(p));
  if (!signedIn && !isPublic) {
    const url = new URL("/signin", request.url);
    url.searchParams.set("callbackUrl", redirectTarget(`${pathname}${search}`, env.NEXTAUTH_URL));
    return NextResponse.redirect(url);
  }

  const nonce = Buffer.from(crypto.randomUUID()).toString("base64");
  const csp = contentSecurityPolicy(nonce, env.NODE_ENV === "development");
  const headers = new Headers(request.headers);
  headers.set("x-nonce", nonce);
  headers.set("content-security-policy", csp);
  const response = NextResponse.next({ request: { headers } });
  response.headers.set("content-security-policy", csp);
  const hsts = strictTransportSecurity(env.NEXTAUTH_URL);
  if (hsts) response.headers.set("strict-transport-security", hsts);
  return response;
}

// Static assets every visitor gets, signed in or not (the sign-in page shows the icon too):
// Next.js's files and the app icon (app/icon.svg, served at /icon.svg).
export const config = {
  matcher: [
    {
      source: "/((?!api/|_next/static|_next/image|favicon.ico|icon.svg).*)",
      missing: [
        { type: "header", key: "next-router-prefetch" },
        { type: "header", key: "purpose", value: "prefetch" },
      ],
    },
  ],
};

/**
 * The one place that decides where the console may send a browser after sign-in, sign-out or any
 * `callbackUrl`/`next` parameter: the sign-in page, next-auth's `redirect` callback and the proxy
 * all call `redirectTarget`, and nothing else checks redirect targets.
 *
 * The value is resolved the way the browser will resolve it (`new URL(value, origin)` is the
 * WHATWG parser Chromium uses: backslashes become slashes, tabs and newlines are dropped), and
 * again after each round of percent-decoding, because some layer on the way (a proxy, a framework
 * reading a query string) may decode `/%5Cevil.example` into `/\evil.example`. Every form must land
 * on the console's own origin (NEXTAUTH_URL); otherwise the target is the console's root.
 */

/** Rounds of percent-decoding checked; a value still changing after that is refused. */
const DECODE_ROUNDS = 4;

function onOrigin(value: string, origin: string): URL | undefined {
  try {
    const url = new URL(value, origin);
    return url.origin === origin ? url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A path (`/a/b?c#d`) on the console for `value`, or `/` when `value` is missing or would leave
 * the console's origin (`consoleUrl`: NEXTAUTH_URL) in the browser or after any decoding.
 */
export function redirectTarget(value: string | null | undefined, consoleUrl: string): string {
  const origin = new URL(consoleUrl).origin;
  if (!value) return "/";
  const url = onOrigin(value, origin);
  if (!url) return "/";
  let current = value;
  for (let round = 0; ; round++) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(current);
    } catch {
      return "/"; // malformed escapes: no layer agrees on what they mean
    }
    if (decoded === current) break;
    if (round === DECODE_ROUNDS || !onOrigin(decoded, origin)) return "/";
    current = decoded;
  }
  const path = `${url.pathname}${url.search}${url.hash}`;
  // `/.//evil.example` parses to the path `//evil.example`: as a relative Location it would name a host.
  return path.startsWith("//") ? "/" : path;
}

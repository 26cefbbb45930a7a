/** The pages' Content-Security-Policy; the nonce is new on every request (see proxy.ts). */
export function contentSecurityPolicy(nonce: string, dev: boolean): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${dev ? " 'unsafe-eval'" : ""}`,
    // React sets style attributes; no inline <style> of ours needs more than this.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/**
 * HSTS once the console is served over https (its public URL, NEXTAUTH_URL, says so): two years,
 * subdomains included. Never on plain http, where browsers ignore it and localhost would break.
 */
export function strictTransportSecurity(consoleUrl: string): string | undefined {
  return consoleUrl.startsWith("https://") ? "max-age=63072000; includeSubDomains" : undefined;
}

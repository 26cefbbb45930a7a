/**
 * The e2e console's sign-in rate limits (playwright.config.ts passes them as env). Per IP: low
 * enough that security.spec.ts reaches it quickly from its own X-Forwarded-For address, high
 * enough that the whole suite's sign-ins from 127.0.0.1 never do within a window. Per email: out
 * of reach (the suite signs in as the same demo users again and again; vitest covers it).
 */
export const E2E_SIGNIN_LIMITS = { perIp: 60, perEmail: 10_000, windowSeconds: 60 } as const;

export const E2E_SIGNIN_LIMIT_ENV = {
  SIGNIN_RATE_LIMIT_PER_IP: String(E2E_SIGNIN_LIMITS.perIp),
  SIGNIN_RATE_LIMIT_PER_EMAIL: String(E2E_SIGNIN_LIMITS.perEmail),
  SIGNIN_RATE_LIMIT_WINDOW_SECONDS: String(E2E_SIGNIN_LIMITS.windowSeconds),
} as const;

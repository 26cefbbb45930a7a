/**
 * `clawgate break-glass --email EMAIL --ttl 15m --reason R`: a one-time console sign-in link for an
 * existing, active user, for when the identity provider is down. Database access only: the grant
 * (its token's hash), an audit entry and an incident (to be reviewed) are written here; the console
 * turns the link into a session that ends with the TTL (see packages/core/src/break-glass.ts).
 */
import { createDb } from "@clawgate/db";
import { commandFailed } from "./failed.ts";
import { envOrExit } from "./env-or-exit.ts";
import { cliActor } from "./safe-mode.ts";

export interface BreakGlassOptions {
  email?: string;
  ttl?: string;
  reason?: string;
}

const usage = (message: string): number => {
  console.error(`clawgate break-glass: ${message}`);
  return 2;
};

export async function breakGlass(opts: BreakGlassOptions): Promise<number> {
  if (!opts.email?.trim()) return usage("--email is required: the console user to sign in");
  if (!opts.reason?.trim()) return usage("--reason is required: say why the identity provider is bypassed");
  const { issueBreakGlass, parseBreakGlassTtl } = await import("@clawgate/core/break-glass.ts");
  let ttlMs: number;
  try {
    ttlMs = parseBreakGlassTtl(opts.ttl ?? "15m");
  } catch (error) {
    return commandFailed("break-glass", error);
  }
  const env = envOrExit(["DATABASE_URL", "CLAWGATE_CONSOLE_URL"]);
  if (!env.CLAWGATE_CONSOLE_URL) return usage("CLAWGATE_CONSOLE_URL is not set: the console's public URL for the link");
  const db = createDb(env.DATABASE_URL, { applicationName: "clawgate-cli", max: 2 });
  try {
    const grant = await issueBreakGlass(db, cliActor("break-glass"), { email: opts.email, ttlMs, reason: opts.reason });
    const url = new URL(`/break-glass/${grant.token}`, env.CLAWGATE_CONSOLE_URL);
    console.log(`One-time sign-in link for ${grant.email}, valid once until ${grant.expiresAt.toISOString()}:`);
    console.log(url.toString());
    console.log(`Incident ${grant.incidentId} records it; review it afterwards (clawgate incident review).`);
    return 0;
  } catch (error) {
    return commandFailed("break-glass", error);
  } finally {
    await db.$disconnect();
  }
}

/**
 * The demo identity provider as a process: `tsx packages/devstack/src/oidc-server.ts`.
 * Listens on PORTS.oidc (OIDC_PORT overrides, for the e2e stack); NEXTAUTH_URL is the console.
 */
import { DEMO_PASSWORD, DEMO_USERS } from "@clawgate/core";
import { startOidcProvider } from "./oidc.ts";
import { DEMO_OIDC_CLIENT, PORTS } from "./ports.ts";

const consoleUrl = process.env.NEXTAUTH_URL ?? `http://localhost:${PORTS.console}`;
const port = Number(process.env.OIDC_PORT ?? PORTS.oidc);
const issuer = `http://localhost:${port}`;

const provider = await startOidcProvider({
  port,
  issuer,
  clients: [{ ...DEMO_OIDC_CLIENT, redirectUris: [`${consoleUrl}/api/auth/callback/oidc`] }],
  users: DEMO_USERS.map((u) => ({ email: u.email, name: u.name, password: DEMO_PASSWORD })),
  loginHint: `Demo users: ${DEMO_USERS.map((u) => u.email).join(", ")}. Password: ${DEMO_PASSWORD}`,
});
console.log(`[oidc] demo identity provider ready at ${issuer} (client ${DEMO_OIDC_CLIENT.clientId})`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void provider.close().then(() => process.exit(0));
  });
}

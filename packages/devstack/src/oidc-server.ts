/** The demo identity provider as a process: `tsx packages/devstack/src/oidc-server.ts`. */
import { DEMO_PASSWORD, DEMO_USERS } from "@clawgate/core";
import { startOidcProvider } from "./oidc.ts";
import { DEMO_OIDC_CLIENT, PORTS } from "./ports.ts";

const consoleUrl = process.env.NEXTAUTH_URL ?? `http://localhost:${PORTS.console}`;
const issuer = `http://localhost:${PORTS.oidc}`;

const provider = await startOidcProvider({
  port: PORTS.oidc,
  issuer,
  clients: [{ ...DEMO_OIDC_CLIENT, redirectUris: [`${consoleUrl}/api/auth/callback/oidc`] }],
  users: DEMO_USERS.map((u) => ({ email: u.email, name: u.name, password: DEMO_PASSWORD })),
});
console.log(`[oidc] demo identity provider ready at ${issuer} (client ${DEMO_OIDC_CLIENT.clientId})`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void provider.close().then(() => process.exit(0));
  });
}

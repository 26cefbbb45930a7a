/**
 * The fake internal API as a process: `node --import tsx packages/devstack/src/fake-internal-api-server.ts`.
 * Env: FAKE_INTERNAL_API_PORT (default 3400), FAKE_INTERNAL_API_TOKEN (optional bearer token).
 * Point the kb.search / ticket.* skills at it with settings `{ "baseUrl": "http://127.0.0.1:3400" }`.
 */
import { startFakeInternalApi } from "./fake-internal-api.ts";

const port = Number(process.env.FAKE_INTERNAL_API_PORT ?? 3400);
const token = process.env.FAKE_INTERNAL_API_TOKEN || undefined;

const api = await startFakeInternalApi({ port, ...(token ? { token } : {}) });
console.log(`[fake-internal-api] ready at ${api.url}${token ? " (bearer token required)" : ""}`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void api.close().then(() => process.exit(0));
  });
}

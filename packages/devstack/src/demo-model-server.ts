/**
 * The demo model as a process: `node --import tsx packages/devstack/src/demo-model-server.ts`.
 * Env: DEMO_MODEL_PORT (default PORTS.demoModel), LOCAL_MODEL_API_KEY (when set, requests need
 * it as a bearer token, like a real endpoint). Faults: `curl -XPOST …/_demo/mode -d '{"mode":"down"}'`
 * (modes ok, error500, rate_limited, slow with latencyMs, down); what it received: `curl …/_demo/requests`.
 */
import { startDemoModel } from "./demo-model.ts";
import { PORTS } from "./ports.ts";

const port = Number(process.env.DEMO_MODEL_PORT ?? PORTS.demoModel);
const apiKey = process.env.LOCAL_MODEL_API_KEY || undefined;

const model = await startDemoModel({ port, ...(apiKey ? { apiKey } : {}) });
console.log(
  `[demo-model] OpenAI-compatible demo model ready at ${model.url} (${apiKey ? "bearer key required" : "no key"})`,
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void model.close().then(() => process.exit(0));
  });
}

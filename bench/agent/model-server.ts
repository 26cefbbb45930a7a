/**
 * The demo model in its own process for bench/agent (so its work does not share the measured
 * process's event loop), with a fixed latency before every answer.
 *   node --import tsx bench/agent/model-server.ts PORT LATENCY_MS
 */
import { startDemoModel } from "@clawgate/devstack/demo-model";

const model = await startDemoModel({ port: Number(process.argv[2] ?? 0), latencyMs: Number(process.argv[3] ?? 50) });
console.log(`READY ${model.url}`);
process.once("SIGTERM", () => void model.close().then(() => process.exit(0)));

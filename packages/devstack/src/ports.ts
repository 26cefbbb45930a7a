/** Local ports of the demo stack (`npm start`) and the test stack (`npm test`). */
export const PORTS = {
  console: 3000,
  runtime: 8080,
  /** The runtime's metrics listener (METRICS_PORT), loopback. */
  runtimeMetrics: 9464,
  oidc: 3100,
  fakeDingtalk: 3200,
  demoModel: 3300,
  fakeInternalApi: 3400,
  demoMcp: 3500,
  embeddedPgDev: 54329,
  embeddedPgTest: 54330,
} as const;

/** The demo OIDC client the console is registered as. */
export const DEMO_OIDC_CLIENT = {
  clientId: "clawgate-console",
  clientSecret: "clawgate-demo-oidc-secret",
} as const;

/**
 * Where the e2e stack listens. Next to the demo stack's ports (console 3000, IdP 3100), so
 * `npm test` runs while `npm start` is up; E2E_CONSOLE_PORT / E2E_OIDC_PORT override.
 */
const consolePort = Number(process.env.E2E_CONSOLE_PORT ?? 3001);
const oidcPort = Number(process.env.E2E_OIDC_PORT ?? 3101);

export const E2E = {
  consolePort,
  oidcPort,
  consoleUrl: `http://localhost:${consolePort}`,
  issuer: `http://localhost:${oidcPort}`,
} as const;

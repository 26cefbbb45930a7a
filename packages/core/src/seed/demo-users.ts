/** Demo console users, one per role. The local OIDC provider signs them in; the seed gives them roles. */
export const DEMO_PASSWORD = "demo";

export const DEMO_USERS = [
  { email: "admin@clawgate.local", name: "Ada Admin", role: "ADMIN" },
  { email: "approver@clawgate.local", name: "Ari Approver", role: "APPROVER" },
  { email: "operator@clawgate.local", name: "Oli Operator", role: "OPERATOR" },
  { email: "viewer@clawgate.local", name: "Vic Viewer", role: "VIEWER" },
] as const;

export type DemoUser = (typeof DEMO_USERS)[number];

/** Who may call what. ADMIN may do everything; other roles only what a procedure lists. */
import type { Role } from "@clawgate/db/enums";

export function hasRole(role: Role | undefined, allowed: readonly Role[]): boolean {
  if (!role) return false;
  return role === "ADMIN" || allowed.includes(role);
}

/** Role sets of the procedure builders in trpc.ts. */
export const ROLE_SETS = {
  viewer: ["VIEWER", "OPERATOR", "APPROVER"],
  operator: ["OPERATOR"],
  approver: ["APPROVER"],
  admin: [],
  /** The audit log's CSV/JSON export (a bulk read): operators and admins. */
  auditExport: ["OPERATOR"],
} as const satisfies Record<string, readonly Role[]>;

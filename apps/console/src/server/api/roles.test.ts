import { describe, expect, it } from "vitest";
import type { Role } from "@clawgate/db/enums";
import { hasRole, ROLE_SETS } from "./roles.ts";

const ALL: Role[] = ["ADMIN", "APPROVER", "OPERATOR", "VIEWER"];
const passing = (set: readonly Role[]) => ALL.filter((r) => hasRole(r, set));

describe("role procedures", () => {
  it("viewer procedures admit every role", () => {
    expect(passing(ROLE_SETS.viewer)).toEqual(ALL);
  });
  it("operator procedures admit operators and admins only", () => {
    expect(passing(ROLE_SETS.operator)).toEqual(["ADMIN", "OPERATOR"]);
  });
  it("approver procedures admit approvers and admins only", () => {
    expect(passing(ROLE_SETS.approver)).toEqual(["ADMIN", "APPROVER"]);
  });
  it("admin procedures admit admins only", () => {
    expect(passing(ROLE_SETS.admin)).toEqual(["ADMIN"]);
  });
  it("no role passes nothing", () => {
    expect(hasRole(undefined, ROLE_SETS.viewer)).toBe(false);
  });
});

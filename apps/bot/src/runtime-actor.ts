import { hostname } from "node:os";
import type { Actor } from "@clawgate/core";

/** Who the runtime's own audit entries name: this replica's host. */
export const RUNTIME_ACTOR: Actor = { type: "RUNTIME", id: hostname(), name: "clawgate runtime" };

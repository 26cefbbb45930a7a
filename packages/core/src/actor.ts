/** Who did something: a console user, the CLI, a runtime replica or the system itself. */
export interface Actor {
  type: "USER" | "CLI" | "RUNTIME" | "SYSTEM";
  id?: string | null;
  name: string;
  ip?: string | null;
  userAgent?: string | null;
}

export const SYSTEM_SEED_ACTOR: Actor = { type: "SYSTEM", name: "seed" };

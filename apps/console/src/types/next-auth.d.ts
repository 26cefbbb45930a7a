import type { Role } from "@clawgate/db/enums";
import type { DefaultSession } from "next-auth";

declare module "next-auth" {
  interface Session {
    user: DefaultSession["user"] & { id: string; role: Role };
  }
  // Database users carry these; a provider's profile does not (the adapter sets the role).
  interface User {
    role?: Role;
    disabledAt?: Date | null;
  }
}

/** The console's logger: the runtime's pino setup (packages/core/src/logger.ts) as "clawgate-console". */
import "server-only";
import { createLogger } from "@clawgate/core/logger.ts";

export const logger = createLogger({ service: "clawgate-console" });

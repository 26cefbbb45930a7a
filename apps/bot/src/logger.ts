/** The runtime's logger: core's pino setup (packages/core/src/logger.ts) as "clawgate-bot". */
import { createLogger as createServiceLogger, type Logger } from "@clawgate/core/logger.ts";
import type pino from "pino";

export type { Logger };

export function createLogger(level: string = "info", destination?: pino.DestinationStream): Logger {
  return createServiceLogger({ service: "clawgate-bot", level, ...(destination ? { destination } : {}) });
}

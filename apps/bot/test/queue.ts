/** The real graphile-worker queue in a test process, replying to a fake DingTalk. */
import { startQueue, type Queue, type QueueEnv, type QueueOptions } from "../src/worker/queue.ts";
import { APP_KEY, APP_SECRET } from "./dingtalk.ts";
import { waitFor } from "./helpers.ts";

/** Queue settings shared by the worker tests: the fake's OpenAPI and its webhook host. */
export function queueEnv(databaseUrl: string, fakeUrl: string, concurrency = 2): QueueEnv {
  return {
    DATABASE_URL: databaseUrl,
    DINGTALK_APP_KEY: APP_KEY,
    DINGTALK_APP_SECRET: APP_SECRET,
    DINGTALK_API_BASE: fakeUrl,
    DINGTALK_WEBHOOK_HOSTS: [new URL(fakeUrl).host],
    WORKER_CONCURRENCY: concurrency,
    OUTBOUND_ROBOT_PER_SECOND: 20,
    OUTBOUND_CONVERSATION_PER_MINUTE: 20,
  };
}

/** Starts the queue with a short poll interval; resolves once it runs jobs. */
export async function startTestQueue(opts: Omit<QueueOptions, "pollIntervalMs">): Promise<Queue> {
  const queue = startQueue({ ...opts, pollIntervalMs: 200 });
  await waitFor(async () => (queue.running() ? true : undefined), 20_000, "queue running");
  return queue;
}

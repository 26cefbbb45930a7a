/**
 * The outbound throttle under a storm, on real PostgreSQL: many conversations with replies
 * waiting, more than the robot's limit allows at once. Refusals by the robot's limit must not
 * use up the conversations' quotas: every conversation gets its full quota in the window.
 */
import { expect, it } from "vitest";
import { createThrottle, RATE_LIMIT_DDL, throttleLimits } from "./throttle.ts";
import { useBotHarness } from "../../test/harness.ts";

const h = useBotHarness({
  name: "throttle",
  pool: { max: 30 },
  setup: async () => {
    await h.pool.query(RATE_LIMIT_DDL);
  },
});

it(
  "gives every conversation its whole quota when the robot limit refuses most sends",
  { timeout: 30_000 },
  async () => {
    const robotPerSecond = 10;
    const perConversation = 2;
    const throttle = createThrottle(
      h.pool,
      throttleLimits({ OUTBOUND_ROBOT_PER_SECOND: robotPerSecond, OUTBOUND_CONVERSATION_PER_MINUTE: perConversation }),
    );
    const conversations = Array.from({ length: 20 }, (_, i) => `cid-storm-${i}`);
    const granted = new Map(conversations.map((c) => [c, 0]));
    const grants: number[] = [];
    const refusals = { robot: 0, conversation: 0 };
    const started = Date.now();
    // Every conversation's waiting reply retries every 100 ms (the storm), for 6 s: 40 sends need
    // 4 s of the robot's limit, so each conversation gets its 2 well within its 60 s window.
    while (Date.now() - started < 6_000) {
      await Promise.all(
        conversations.map(async (c) => {
          const decision = await throttle.take("robot-storm", c);
          if (decision.ok) {
            granted.set(c, granted.get(c)! + 1);
            grants.push(Date.now());
          } else refusals[decision.scope] += 1;
        }),
      );
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(refusals.robot).toBeGreaterThan(0);
    expect([...granted.values()]).toEqual(conversations.map(() => perConversation));
    // The robot limit held: no more than its points in any one second (fixed windows).
    const elapsedSec = Math.ceil((Math.max(...grants) - started) / 1000) + 1;
    expect(grants.length).toBeLessThanOrEqual(robotPerSecond * elapsedSec);
  },
);

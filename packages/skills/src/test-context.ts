import type { SkillContext } from "./handler.ts";

/** A SkillContext for tests: real fetch, a controllable clock, no runtime hooks unless given. */
export function testContext(overrides: Partial<SkillContext> = {}): SkillContext & { clock: { t: number } } {
  const clock = { t: 1_000_000 };
  return {
    signal: new AbortController().signal,
    settings: {},
    conversationId: "cid-test",
    userId: "user-1",
    traceId: "trace-1",
    fetch,
    now: () => clock.t,
    clock,
    ...overrides,
  };
}

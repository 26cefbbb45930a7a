-- The Overview's last-24-hours counts read from the index alone (index-only scans), not from
-- the heap: at 5M messages and 20M skill invocations the heap fetches of a day's rows were most
-- of the page's time (bench/scale). Each replaces the single-column index it extends (the
-- retention job's "receivedAt" range and every createdAt-only read use the leading column).
--
-- A big live install: CREATE INDEX blocks writes to the table while it builds (minutes at
-- these sizes). Build both first with CREATE INDEX CONCURRENTLY under the same names; this
-- migration then skips them (IF NOT EXISTS) and only drops the old ones (after: no moment
-- without an index).

-- CreateIndex
CREATE INDEX IF NOT EXISTS "InboundMessage_receivedAt_status_idx" ON "InboundMessage"("receivedAt", "status");

-- CreateIndex
CREATE INDEX IF NOT EXISTS "SkillInvocation_createdAt_skillKey_decision_outcome_idx" ON "SkillInvocation"("createdAt", "skillKey", "decision", "outcome");

-- DropIndex
DROP INDEX IF EXISTS "InboundMessage_receivedAt_idx";

-- DropIndex
DROP INDEX IF EXISTS "SkillInvocation_createdAt_idx";

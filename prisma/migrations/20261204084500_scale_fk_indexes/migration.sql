-- The foreign keys' ON DELETE SET NULL from InboundMessage (the retention job deletes messages
-- in batches of 1,000): without an index each deleted message scanned the whole table
-- (bench/scale: 20M skill invocations). A big live install: build them first with CREATE INDEX
-- CONCURRENTLY under the same names (CREATE INDEX blocks the table's writes while it builds);
-- this migration then skips them.

-- CreateIndex
CREATE INDEX IF NOT EXISTS "OutboundMessage_inboundMessageId_idx" ON "OutboundMessage"("inboundMessageId");

-- CreateIndex
CREATE INDEX IF NOT EXISTS "SkillInvocation_inboundMessageId_idx" ON "SkillInvocation"("inboundMessageId");

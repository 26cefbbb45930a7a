-- The foreign keys' ON DELETE SET NULL from InboundMessage (the retention job deletes messages
-- in batches of 1,000): without an index each deleted message scanned the whole table
-- (bench/scale: 20M skill invocations).

-- CreateIndex
CREATE INDEX "OutboundMessage_inboundMessageId_idx" ON "OutboundMessage"("inboundMessageId");

-- CreateIndex
CREATE INDEX "SkillInvocation_inboundMessageId_idx" ON "SkillInvocation"("inboundMessageId");

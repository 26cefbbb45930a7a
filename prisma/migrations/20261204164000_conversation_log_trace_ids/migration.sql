-- The conversation log (issue 15): the model that answered a message and the config revision its
-- turn ran under; search by trace id in the conversation log and the audit log. A big live
-- install: build the indexes first with CREATE INDEX CONCURRENTLY under the same names (CREATE
-- INDEX blocks the table's writes while it builds); this migration then skips them.

-- AlterTable
ALTER TABLE "InboundMessage" ADD COLUMN "model" TEXT,
ADD COLUMN "configRevision" INTEGER;

-- CreateIndex
CREATE INDEX IF NOT EXISTS "InboundMessage_traceId_idx" ON "InboundMessage"("traceId");

-- CreateIndex
CREATE INDEX IF NOT EXISTS "AuditLog_traceId_idx" ON "AuditLog"("traceId");

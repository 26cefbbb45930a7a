-- AlterTable
ALTER TABLE "ConversationMemory" ADD COLUMN     "recent" JSONB NOT NULL DEFAULT '[]';

-- CreateTable
CREATE TABLE "ModelLease" (
    "id" TEXT NOT NULL,
    "endpointName" TEXT NOT NULL,
    "holder" TEXT NOT NULL,
    "acquiredAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ModelLease_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ModelLease_endpointName_expiresAt_idx" ON "ModelLease"("endpointName", "expiresAt");


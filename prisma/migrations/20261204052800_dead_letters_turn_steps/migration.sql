-- CreateEnum
CREATE TYPE "DeadLetterSource" AS ENUM ('INGRESS', 'INBOUND_JOB');

-- CreateEnum
CREATE TYPE "DeadLetterStatus" AS ENUM ('OPEN', 'RETRIED');

-- AlterTable
ALTER TABLE "InboundMessage" ADD COLUMN     "alteredChars" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "completionTokens" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "modelCalls" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "promptTokens" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "TurnStep" (
    "inboundMessageId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "kind" TEXT NOT NULL,
    "data" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "TurnStep_pkey" PRIMARY KEY ("inboundMessageId","seq")
);

-- CreateTable
CREATE TABLE "DeadLetter" (
    "id" TEXT NOT NULL,
    "source" "DeadLetterSource" NOT NULL,
    "status" "DeadLetterStatus" NOT NULL DEFAULT 'OPEN',
    "reason" TEXT NOT NULL,
    "errorCode" TEXT,
    "traceId" TEXT NOT NULL,
    "robotCode" TEXT,
    "msgId" TEXT,
    "conversationId" TEXT,
    "inboundMessageId" TEXT,
    "channel" TEXT,
    "payload" JSONB,
    "attempts" INTEGER NOT NULL DEFAULT 1,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "retriedAt" TIMESTAMP(3),
    "retriedBy" TEXT,

    CONSTRAINT "DeadLetter_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "DeadLetter_status_createdAt_idx" ON "DeadLetter"("status", "createdAt");

-- CreateIndex
CREATE INDEX "DeadLetter_inboundMessageId_idx" ON "DeadLetter"("inboundMessageId");

-- AddForeignKey
ALTER TABLE "TurnStep" ADD CONSTRAINT "TurnStep_inboundMessageId_fkey" FOREIGN KEY ("inboundMessageId") REFERENCES "InboundMessage"("id") ON DELETE CASCADE ON UPDATE CASCADE;


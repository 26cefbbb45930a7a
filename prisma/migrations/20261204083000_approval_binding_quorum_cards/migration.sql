-- CreateEnum
CREATE TYPE "ApprovalChannel" AS ENUM ('CONSOLE', 'CARD');

-- AlterEnum
ALTER TYPE "ApprovalStatus" ADD VALUE 'INVALIDATED';

-- AlterTable
ALTER TABLE "ApprovalRequest" ADD COLUMN     "bindingHash" TEXT NOT NULL DEFAULT '',
ADD COLUMN     "cardSentAt" TIMESTAMP(3),
ADD COLUMN     "cardState" TEXT,
ADD COLUMN     "conversationTitle" TEXT,
ADD COLUMN     "escalatedAt" TIMESTAMP(3),
ADD COLUMN     "reason" TEXT,
ADD COLUMN     "requesterName" TEXT,
ADD COLUMN     "requesterUnionId" TEXT,
ADD COLUMN     "requiredApprovals" INTEGER NOT NULL DEFAULT 1,
ADD COLUMN     "riskClass" "RiskClass" NOT NULL DEFAULT 'WRITE',
ADD COLUMN     "skillVersion" TEXT NOT NULL DEFAULT '';

-- AlterTable
ALTER TABLE "User" ADD COLUMN     "dingtalkUnionId" TEXT,
ADD COLUMN     "dingtalkUserId" TEXT;

-- CreateTable
CREATE TABLE "ApprovalDecision" (
    "id" TEXT NOT NULL,
    "approvalId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "approve" BOOLEAN NOT NULL,
    "channel" "ApprovalChannel" NOT NULL,
    "deciderName" TEXT NOT NULL,
    "dingtalkUserId" TEXT,
    "note" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ApprovalDecision_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ApprovalDecision_userId_idx" ON "ApprovalDecision"("userId");

-- CreateIndex
CREATE UNIQUE INDEX "ApprovalDecision_approvalId_userId_key" ON "ApprovalDecision"("approvalId", "userId");

-- CreateIndex
CREATE INDEX "ApprovalRequest_status_expiresAt_idx" ON "ApprovalRequest"("status", "expiresAt");

-- CreateIndex
CREATE UNIQUE INDEX "User_dingtalkUserId_key" ON "User"("dingtalkUserId");

-- CreateIndex
CREATE UNIQUE INDEX "User_dingtalkUnionId_key" ON "User"("dingtalkUnionId");

-- AddForeignKey
ALTER TABLE "ApprovalDecision" ADD CONSTRAINT "ApprovalDecision_approvalId_fkey" FOREIGN KEY ("approvalId") REFERENCES "ApprovalRequest"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ApprovalDecision" ADD CONSTRAINT "ApprovalDecision_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;


-- History: decisions made before quorum existed become the request's one decision row.
INSERT INTO "ApprovalDecision" ("id", "approvalId", "userId", "approve", "channel", "deciderName", "note", "createdAt")
SELECT 'backfill_' || a."id", a."id", a."decidedById", a."status" <> 'REJECTED', 'CONSOLE',
       COALESCE(u."name", u."email", u."id"), a."decisionNote", a."decidedAt"
  FROM "ApprovalRequest" a JOIN "User" u ON u."id" = a."decidedById"
 WHERE a."decidedAt" IS NOT NULL;

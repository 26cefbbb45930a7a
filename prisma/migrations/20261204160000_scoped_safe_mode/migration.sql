-- Scoped safe mode: activations (several at once) with scopes and their own message; the kill
-- switch as an activation kind; an outbox of ops-chat notices. The global state carries over:
-- an active singleton becomes (or keeps) an open activation of scope "everything".

-- CreateEnum
CREATE TYPE "SafeModeKind" AS ENUM ('SAFE_MODE', 'KILL_SWITCH');

-- AlterTable
ALTER TABLE "SafeModeEvent" ADD COLUMN "kind" "SafeModeKind" NOT NULL DEFAULT 'SAFE_MODE',
ADD COLUMN "scopes" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN "message" TEXT;
UPDATE "SafeModeEvent" SET "scopes" = ARRAY[]::TEXT[] WHERE "scopes" IS NULL;

-- Carry the global state over.
-- 1. Active with its activation: the activation takes the level and message.
UPDATE "SafeModeEvent" e SET "level" = s."level", "message" = s."message"
FROM "SafeModeState" s
WHERE s."id" = 1 AND s."active" AND s."currentEventId" = e."id";
-- 2. Active without a recorded activation (written by hand): record one.
INSERT INTO "SafeModeEvent" ("id", "kind", "level", "scopes", "message", "reason", "actorType", "actorName", "startedAt")
SELECT 'migrated-' || md5(random()::text), 'SAFE_MODE', s."level", ARRAY[]::TEXT[], s."message",
       '(carried over from the global switch)', 'SYSTEM', 'migration', now()
FROM "SafeModeState" s
WHERE s."id" = 1 AND s."active" AND s."currentEventId" IS NULL;
-- 3. Any other open activation is not in force: close it.
UPDATE "SafeModeEvent" e SET "endedAt" = COALESCE(e."expiresAt", now()), "endedBy" = 'migration',
       "endReason" = 'not in force when safe mode became scoped'
WHERE e."endedAt" IS NULL
  AND NOT EXISTS (SELECT 1 FROM "SafeModeState" s WHERE s."id" = 1 AND s."active" AND s."currentEventId" = e."id")
  AND e."id" NOT LIKE 'migrated-%';

-- The singleton is the switches' lock row now.
ALTER TABLE "SafeModeState" DROP CONSTRAINT IF EXISTS "SafeModeState_currentEventId_fkey";
DROP INDEX IF EXISTS "SafeModeState_currentEventId_key";
ALTER TABLE "SafeModeState" DROP COLUMN "active",
DROP COLUMN "currentEventId",
DROP COLUMN "level",
DROP COLUMN "message";

-- CreateTable
CREATE TABLE "OpsNotice" (
    "id" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sentAt" TIMESTAMP(3),

    CONSTRAINT "OpsNotice_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "SafeModeEvent_endedAt_idx" ON "SafeModeEvent"("endedAt");
CREATE INDEX "OpsNotice_sentAt_createdAt_idx" ON "OpsNotice"("sentAt", "createdAt");

-- At most one kill switch in force.
CREATE UNIQUE INDEX "SafeModeEvent_one_kill_switch" ON "SafeModeEvent"("kind") WHERE "kind" = 'KILL_SWITCH' AND "endedAt" IS NULL;

-- CreateEnum
CREATE TYPE "SkillSource" AS ENUM ('BUILTIN', 'MCP', 'HTTP');

-- AlterTable
ALTER TABLE "ApprovalRequest" ADD COLUMN     "untrustedSources" JSONB;

-- AlterTable
ALTER TABLE "Skill" ADD COLUMN     "approvedHash" TEXT,
ADD COLUMN     "definition" JSONB,
ADD COLUMN     "maskPii" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "mcpServerId" TEXT,
ADD COLUMN     "outputMaxChars" INTEGER,
ADD COLUMN     "pendingDefinition" JSONB,
ADD COLUMN     "source" "SkillSource" NOT NULL DEFAULT 'BUILTIN',
ADD COLUMN     "toolName" TEXT,
ADD COLUMN     "untrustedOutput" BOOLEAN NOT NULL DEFAULT false;

-- CreateTable
CREATE TABLE "McpServer" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "headers" JSONB NOT NULL DEFAULT '{}',
    "timeoutMs" INTEGER NOT NULL DEFAULT 10000,
    "maxConcurrency" INTEGER NOT NULL DEFAULT 4,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "lastListedAt" TIMESTAMP(3),
    "lastError" TEXT,
    "lastCheckedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "McpServer_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "McpServer_name_key" ON "McpServer"("name");

-- CreateIndex
CREATE INDEX "Skill_mcpServerId_idx" ON "Skill"("mcpServerId");

-- AddForeignKey
ALTER TABLE "Skill" ADD CONSTRAINT "Skill_mcpServerId_fkey" FOREIGN KEY ("mcpServerId") REFERENCES "McpServer"("id") ON DELETE RESTRICT ON UPDATE CASCADE;


-- http.fetch returns outside content: untrusted by default (an admin may mark it trusted).
UPDATE "Skill" SET "untrustedOutput" = true WHERE "key" = 'http.fetch';

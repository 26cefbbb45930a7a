-- A send is claimed (SENDING, committed) before the HTTP request; a claim whose sender vanished
-- becomes UNCONFIRMED and is not resent (apps/bot/src/worker/reply.ts).
ALTER TYPE "OutboundStatus" ADD VALUE 'SENDING';
ALTER TYPE "OutboundStatus" ADD VALUE 'UNCONFIRMED';

-- AlterTable
ALTER TABLE "OutboundMessage" ADD COLUMN     "sendingAt" TIMESTAMP(3);

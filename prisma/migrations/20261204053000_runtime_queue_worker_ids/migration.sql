-- AlterTable
ALTER TABLE "RuntimeInstance" ADD COLUMN     "queueWorkerIds" TEXT[] DEFAULT ARRAY[]::TEXT[];

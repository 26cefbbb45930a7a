-- AlterTable
ALTER TABLE "Skill" ADD COLUMN     "builtin" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "retiredAt" TIMESTAMP(3);

-- Every skill stored so far came from the code (the seed and onboard create only built-in ones).
UPDATE "Skill" SET "builtin" = true;

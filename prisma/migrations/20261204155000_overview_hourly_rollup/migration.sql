-- CreateTable
CREATE TABLE "HourlyRollup" (
    "hour" TIMESTAMP(3) NOT NULL,
    "rolledAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "HourlyRollup_pkey" PRIMARY KEY ("hour")
);

-- CreateTable
CREATE TABLE "HourlyStat" (
    "hour" TIMESTAMP(3) NOT NULL,
    "kind" TEXT NOT NULL,
    "skillKey" TEXT NOT NULL DEFAULT '',
    "status" TEXT NOT NULL DEFAULT '',
    "outcome" TEXT NOT NULL DEFAULT '',
    "n" INTEGER NOT NULL,

    CONSTRAINT "HourlyStat_pkey" PRIMARY KEY ("hour","kind","skillKey","status","outcome")
);

-- AddForeignKey
ALTER TABLE "HourlyStat" ADD CONSTRAINT "HourlyStat_hour_fkey" FOREIGN KEY ("hour") REFERENCES "HourlyRollup"("hour") ON DELETE CASCADE ON UPDATE CASCADE;


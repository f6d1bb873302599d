package repo_test

import (
	"os"
	"testing"

	"github.com/indexer/indexer/internal/dbtest"
)

// TestMain runs the tests on SQLite, then these again on PostgreSQL.
func TestMain(m *testing.M) {
	os.Exit(dbtest.Main(m,
		"TestOddPathsRoundTrip", "TestOddScanRootsRoundTrip", "TestUpsertManyRefusesBadDigests",
		"TestContentByDigest", "TestUpsertManyInsertsThenUpdates", "TestUniqueKeyWithArchivePath",
		"TestEachUnder", "TestEachUnderStopsOnError", "TestMarkDeletedCounts", "TestCountsEmpty",
		"TestScansRoundTrip", "TestUpsertManyStoresDigests", "TestMachinesAndLike", "TestUpsertManyKeyTwiceInOneChunk",
		"TestDupesHeldEqualsSorted", "TestDupesOrderMachinesBytewise", "TestRawListingIsTheUnitsSnapshot",
		"TestRecordAddedLogsExactlyItsIDs", "TestInsertAddedLogsEachFileOnce",
	))
}

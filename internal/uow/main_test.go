package uow_test

import (
	"os"
	"testing"

	"github.com/indexer/indexer/internal/dbtest"
)

// TestMain runs the tests on SQLite, then these again on PostgreSQL. The
// others make SQLite itself busy, or read its pragmas and result codes;
// TestDoRetriesDeadlock is PostgreSQL's busy test.
func TestMain(m *testing.M) {
	os.Exit(dbtest.Main(m,
		"TestDoCommits", "TestDoRollsBackOnError", "TestDoRollsBackOnPanic", "TestReadIsReadOnly",
		"TestReadSnapshot", "TestDoRecordsTags", "TestForkSharesOnCommit", "TestAnnounce", "TestContentTotalsCountMixedSizes", "TestContentTotalsFollowSavepoints",
	))
}

package gc

// The bounds of Undo, for the tests of package gc_test.
const (
	UndoBatch = undoBatch
	MaxUndo   = maxUndo
)

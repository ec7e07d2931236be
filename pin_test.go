package tack

import (
	"slices"
	"testing"
)

func TestMergeKeys(t *testing.T) {
	got := MergeKeys(3, []string{"a", "c", "e"}, []string{"b", "c"})
	if want := []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("MergeKeys = %v, want %v", got, want)
	}
	if got := MergeKeys(3, nil, nil); len(got) != 0 {
		t.Errorf("MergeKeys of nothing = %v, want none", got)
	}
}

package tack

import "testing"

func TestCheckStorage(t *testing.T) {
	tests := []struct {
		size, stored, limit int64
		held                bool
		want                string
	}{
		{size: 500, stored: 600, limit: 0, want: ""},
		{size: 400, stored: 600, limit: 1000, want: ""},
		{size: 401, stored: 600, limit: 1000, want: EQUOTA},
		{size: 401, stored: 600, limit: 1000, held: true, want: ""},
	}
	for _, tt := range tests {
		err := CheckStorage(tt.size, tt.stored, tt.limit, tt.held)
		if got := ErrorCode(err); got != tt.want {
			t.Errorf("CheckStorage(%d, %d, %d, %v) = %v, want code %q", tt.size, tt.stored, tt.limit, tt.held, err, tt.want)
		}
	}
}

func TestCheckPending(t *testing.T) {
	tests := []struct {
		pending, limit int64
		want           string
	}{
		{pending: 5, limit: 0, want: ""},
		{pending: 4, limit: 5, want: ""},
		{pending: 5, limit: 5, want: EQUOTA},
	}
	for _, tt := range tests {
		err := CheckPending(tt.pending, tt.limit)
		if got := ErrorCode(err); got != tt.want {
			t.Errorf("CheckPending(%d, %d) = %v, want code %q", tt.pending, tt.limit, err, tt.want)
		}
	}
}

func TestNextTurn(t *testing.T) {
	if got, want := NextTurn(3, 1), int64(4); got != want {
		t.Errorf("NextTurn(3, 1) = %d, want %d", got, want)
	}
	if got, want := NextTurn(3, 9), int64(10); got != want {
		t.Errorf("an idle account: NextTurn(3, 9) = %d, want %d", got, want)
	}
}

func TestLimit(t *testing.T) {
	own := int64(7)
	if got := Limit(&own, 3); got != 7 {
		t.Errorf("Limit(7, 3) = %d, want 7", got)
	}
	if got := Limit(nil, 3); got != 3 {
		t.Errorf("Limit(nil, 3) = %d, want 3", got)
	}
}

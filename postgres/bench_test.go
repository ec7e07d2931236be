package postgres_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/tack-ipfs/tack"
	"github.com/tack-ipfs/tack/internal/pgtest"
	"github.com/tack-ipfs/tack/storetest"
)

// BenchmarkCreatePin creates requests from many goroutines, spread over 40
// accounts, as POST /pins does.
func BenchmarkCreatePin(b *testing.B) {
	db := MustOpen(b, pgtest.NewDatabase(b))
	defer db.Close()
	var accounts []*tack.Account
	for i := range 40 {
		accounts = append(accounts, storetest.MustCreateAccount(b, db, fmt.Sprintf("a%d@example.com", i)))
	}
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a := accounts[n.Add(1)%int64(len(accounts))]
			if err := db.CreatePin(b.Context(), storetest.NewPin(b, a.ID, "bench")); err != nil {
				b.Fatal(err)
			}
		}
	})
}

package syncbuf

import (
	"strings"
	"sync"
	"testing"
)

// TestConcurrentWriteAndString is meant for -race: writers and a reader at
// once, then every byte accounted for.
func TestConcurrentWriteAndString(t *testing.T) {
	t.Parallel()
	var b Buffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				_, _ = b.Write([]byte("ab"))
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if got, want := b.String(), strings.Repeat("ab", 400); got != want {
		t.Errorf("String() after 400 writes of %q = %d bytes, want %d", "ab", len(got), len(want))
	}
}

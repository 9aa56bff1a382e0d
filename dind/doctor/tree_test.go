package doctor

import (
	"reflect"
	"testing"
	"time"
)

// TestDescendantsParentCycle: /proc is read one process at a time, so a
// pid reused while it is read can make two processes each other's parent
// (10's parent 20 exits, its pid goes to a child of 10). descendants must
// still end, listing each process once.
func TestDescendantsParentCycle(t *testing.T) {
	t.Parallel()
	children := map[int][]int{1: {10}, 10: {20}, 20: {10, 30}}
	done := make(chan []int, 1)
	go func() { done <- descendants(children, 1) }()
	select {
	case got := <-done:
		if want := []int{10, 20, 30}; !reflect.DeepEqual(got, want) {
			t.Errorf("descendants = %v, want %v", got, want)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("descendants still running after 2s on a parent cycle 10 -> 20 -> 10")
	}
}

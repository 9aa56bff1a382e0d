package dind

import (
	"strings"
	"testing"
	"time"
)

func TestRestartBudget(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	b := &restartBudget{max: 2, window: 10 * time.Minute}
	steps := []struct {
		at    time.Duration
		wantN int
		ok    bool
	}{
		{0, 1, true},
		{time.Minute, 2, true},
		{2 * time.Minute, 2, false},
		{10*time.Minute + time.Second, 2, true}, // the first one left the window
	}
	for _, s := range steps {
		n, ok := b.take(t0.Add(s.at))
		if n != s.wantN || ok != s.ok {
			t.Errorf("take(+%s) = %d, %t; want %d, %t", s.at, n, ok, s.wantN, s.ok)
		}
	}
	if n, ok := (&restartBudget{max: 0, window: time.Minute}).take(t0); n != 0 || ok {
		t.Errorf("zero budget take = %d, %t; want 0, false", n, ok)
	}
}

func TestRestartDelay(t *testing.T) {
	t.Parallel()
	want := []string{"250ms", "500ms", "1s", "2s", "4s", "8s", "8s", "8s"}
	var got []string
	for n := 1; n <= len(want); n++ {
		got = append(got, restartDelay(n).String())
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("restartDelay(1..8) = %q, want %q", got, want)
	}
}

package embed_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/envbox/envbox/embed"
	"github.com/envbox/envbox/integration/cgtest"
)

// TestDelegateScriptParses checks the script's syntax under every shell
// and with shellcheck (sh dialect), without running it: cheap enough for
// -short and for machines without root.
func TestDelegateScriptParses(t *testing.T) {
	checks := []struct{ name, argv string }{
		{"dash", "dash -n -c"},
		{"busybox", "busybox sh -n -c"},
		{"bash_posix", "bash --posix -n -c"},
		{"shellcheck", "shellcheck -s sh -"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			argv := strings.Fields(c.argv)
			if _, err := exec.LookPath(argv[0]); err != nil {
				cgtest.Unavailable(t, "%s not installed (integration/deps.sh installs it): %v", argv[0], err)
			}
			cmd := exec.Command(argv[0], argv[1:]...)
			if c.name == "shellcheck" {
				cmd.Stdin = strings.NewReader(embed.DelegateScript)
			} else {
				cmd.Args = append(cmd.Args, embed.DelegateScript)
			}
			if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
				t.Errorf("%s: %v, output %q; want success and no output", c.argv, err, out)
			}
		})
	}
}

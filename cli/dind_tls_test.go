package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/afero"

	"github.com/envbox/envbox/dind"
)

// A server key other users can read may have leaked: envbox refuses it by
// path with the fix, exits 1 and starts nothing, leaving its certificate.
func TestDindEntrypointRefusedKeyStartsNothing(t *testing.T) {
	t.Parallel()
	certs := filepath.Join(t.TempDir(), "certs")
	if err := dind.EnsureTLS(afero.NewOsFs(), dind.TLSConfig{Dir: certs}); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(certs, "server/key.pem")
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(certs, "server/cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cmd, f := startDind(t, "", []string{"DOCKER_TLS_CERTDIR=" + certs}, "--", "--storage-driver=vfs")
	if code := waitExit(t, cmd); code != 1 {
		t.Errorf("exit code = %d, want 1", code)
	}
	want := "envbox: refuse " + key + ": mode 0644 lets other users read it; remove it and envbox makes a new key and certificate\n"
	if got := f.stderr.String(); !strings.HasSuffix(got, want) {
		t.Errorf("stderr = %q, want it to end with %q", got, want)
	}
	if r := f.record(t); r != nil {
		t.Errorf("something was started: %q", r)
	}
	if after, err := os.ReadFile(filepath.Join(certs, "server/cert.pem")); err != nil || string(after) != string(before) {
		t.Errorf("the refused key's certificate was rewritten (err %v)", err)
	}
}

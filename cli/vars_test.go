package cli

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// update rewrites the generated blocks of doc.go and the Markdown pages:
//
//	go test ./cli -run TestDocsMatchTables -update    (or: go generate ./cli)
var update = flag.Bool("update", false, "rewrite the generated variable tables in cli/doc.go and the Markdown pages")

// TestDocsMatchTables: cli/doc.go and each command's page carry, between markers, the
// rendering of every command's table, the same table as --help. It fails
// when a block is stale; -update rewrites it.
func TestDocsMatchTables(t *testing.T) {
	for _, d := range docBlocks {
		goBegin, goEnd := d.markers("// ", "")
		mdBegin, mdEnd := d.markers("<!-- ", " -->")
		for _, f := range []struct{ file, begin, end, body string }{
			{"doc.go", goBegin, goEnd, d.goDoc()},
			{"../" + d.page, mdBegin, mdEnd, d.markdown()},
		} {
			data, err := os.ReadFile(f.file)
			if err != nil {
				t.Fatal(err)
			}
			text := string(data)
			i, j := strings.Index(text, f.begin), strings.Index(text, f.end)
			if i < 0 || j < i {
				t.Fatalf("%s: markers %q ... %q not found", f.file, f.begin, f.end)
			}
			got := text[i+len(f.begin) : j]
			if got == f.body {
				continue
			}
			if *update {
				text = text[:i+len(f.begin)] + f.body + text[j:]
				if err := os.WriteFile(f.file, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			t.Errorf("%s is out of date with %s; run go test ./cli -run TestDocsMatchTables -update\ngot:\n%s\nwant:\n%s", f.file, d.table, got, f.body)
		}
	}
}

// testConfig exercises the table mechanics apart from any command.
type testConfig struct {
	Name, Secret, Empty string
	EmptySet            bool
	On                  bool
}

var testVars = varTable[testConfig]{
	{env: "T_NAME", flag: "name", def: "dflt", meaning: "a name",
		set: func(c *testConfig, v string) error { return setName(&c.Name, v, userRE) }},
	{env: "T_SECRET", flag: "secret", secret: true, meaning: "a secret",
		set: func(c *testConfig, v string) error { return setName(&c.Secret, v, userRE) }},
	{env: "T_EMPTY", defText: "off", empty: "on, without a value", meaning: "empty means something",
		set: func(c *testConfig, v string) error { c.Empty, c.EmptySet = v, true; return nil }},
	{flag: "on", isBool: true, def: "false", meaning: "a switch",
		set: func(c *testConfig, v string) error { return setBool(&c.On, v) }},
}

func TestVarTableParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    testConfig
		wantErr string
	}{
		{name: "defaults", want: testConfig{Name: "dflt"}},
		{name: "variable", env: map[string]string{"T_NAME": "bob"}, want: testConfig{Name: "bob"}},
		{name: "flag_wins", env: map[string]string{"T_NAME": "bob"}, args: []string{"--name=ann"}, want: testConfig{Name: "ann"}},
		{name: "empty_variable_is_unset", env: map[string]string{"T_NAME": ""}, want: testConfig{Name: "dflt"}},
		{name: "empty_flag_is_unset", env: map[string]string{"T_NAME": "bob"}, args: []string{"--name="}, want: testConfig{Name: "dflt"}},
		{name: "empty_with_a_meaning", env: map[string]string{"T_EMPTY": ""}, want: testConfig{Name: "dflt", EmptySet: true}},
		{name: "unset_with_a_meaning", env: map[string]string{}, want: testConfig{Name: "dflt"}},
		{name: "bool_flag_alone", args: []string{"--on"}, want: testConfig{Name: "dflt", On: true}},
		{name: "bad_variable", env: map[string]string{"T_NAME": "B B"}, wantErr: `parse T_NAME="B B": want a name matching ^[a-z_][a-z0-9_.-]*\$?$|^[0-9]+$`},
		{name: "bad_flag", args: []string{"--on=maybe"}, wantErr: `parse --on="maybe": want true or false`},
		{name: "secret_not_echoed", env: map[string]string{"T_SECRET": "S3CRET VALUE"}, wantErr: `parse T_SECRET: want a name matching ^[a-z_][a-z0-9_.-]*\$?$|^[0-9]+$ (value not shown)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			vals := testVars.flags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatalf("parse flags %q: %v", tt.args, err)
			}
			var got testConfig
			err := testVars.parse(&got, lookupMap(tt.env), vals, fs.Changed)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("parse(%v, %q) error = %v, want %q", tt.env, tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parse(%v, %q) = %+v, %v; want %+v", tt.env, tt.args, got, err, tt.want)
			}
		})
	}
}

func TestVarTableRender(t *testing.T) {
	t.Parallel()
	wantHelp := `Test table:
  T_NAME                         --name
      a name
      default: dflt
  T_SECRET                       --secret
      a secret
      default: unset
  T_EMPTY
      empty means something
      default: off; set but empty: on, without a value
  --on
      a switch
      default: false
`
	if got := testVars.help("Test table:"); got != wantHelp {
		t.Errorf("help =\n%s\nwant\n%s", got, wantHelp)
	}
	wantMD := "| variable | flag | meaning | default | conflicts |\n|---|---|---|---|---|\n" +
		"| `T_NAME` | `--name` | a name | dflt | - |\n" +
		"| `T_SECRET` | `--secret` | a secret | unset | - |\n" +
		"| `T_EMPTY` | - | empty means something | off; set but empty: on, without a value | - |\n" +
		"| - | `--on` | a switch | false | - |\n"
	if got := testVars.markdown(); got != wantMD {
		t.Errorf("markdown =\n%s\nwant\n%s", got, wantMD)
	}
	wantGo := "//\n" +
		"//\tT_NAME (--name)\n//\t\ta name\n//\t\tdefault: dflt; conflicts: -\n" +
		"//\tT_SECRET (--secret)\n//\t\ta secret\n//\t\tdefault: unset; conflicts: -\n" +
		"//\tT_EMPTY\n//\t\tempty means something\n//\t\tdefault: off; set but empty: on, without a value; conflicts: -\n" +
		"//\t--on\n//\t\ta switch\n//\t\tdefault: false; conflicts: -\n" +
		"//\n"
	if got := testVars.goDoc(); got != wantGo {
		t.Errorf("goDoc =\n%s\nwant\n%s", got, wantGo)
	}
}

// TestDindHelpListsEveryKnob: `envbox dind --help` names every flag and
// variable of envbox dind with its default, spelled out here.
func TestDindHelpListsEveryKnob(t *testing.T) {
	t.Parallel()
	want := []struct{ name, def string }{
		{"ENVBOX_ISOLATED_MOUNT          --isolated-mount", "false"},
		{"ENVBOX_STOP_GRACE              --stop-grace", "10s"},
		{"ENVBOX_DOCKERD_TIMEOUT         --ready-timeout", "60s"},
		{"ENVBOX_DELEGATE_ATTEMPTS       --delegate-attempts", "100"},
		{"ENVBOX_DOCKERD_RESTARTS        --dockerd-restarts", "3"},
		{"ENVBOX_LOG_FORMAT              --log-format", "human on a terminal, else json"},
		{"DOCKER_TLS_CERTDIR", "unix socket only; set but empty: plain TCP on 2375 (--tls=false)"},
		{"DOCKER_TLS_SAN", "unset"},
		{"DOCKER_HOST", "unix:///var/run/docker.sock"},
		{"DOCKER_IPTABLES_LEGACY", "legacy when legacy rules exist or only iptables-legacy works, else nft; set but empty: nft"},
	}
	for _, args := range [][]string{{"dind", "--help"}, {"dind", "-h"}, {"dind", "--isolated-mount", "--help", "--"}} {
		root := Root()
		var out strings.Builder
		root.SetOut(&out)
		root.SetArgs(args)
		if err := root.Execute(); err != nil {
			t.Fatalf("envbox %q: %v", args, err)
		}
		help := out.String()
		for _, w := range want {
			i := strings.Index(help, "\n  "+w.name+"\n")
			if i < 0 {
				t.Errorf("envbox %q lacks the line %q:\n%s", args, w.name, help)
				continue
			}
			// The row: name line, meaning line, default line.
			row := strings.SplitN(help[i+1:], "\n", 4)
			if len(row) < 3 || !strings.HasPrefix(row[2], "      default: "+w.def) {
				t.Errorf("envbox %q: row %q has no default %q: %q", args, w.name, w.def, row)
			}
		}
	}
}

// TestHelpListsEveryRow: the --help of dind, doctor and adopt-proxy shows
// each row of its table (docker: TestDockerHelpListsEveryVariable).
func TestHelpListsEveryRow(t *testing.T) {
	t.Parallel()
	for cmd, labels := range map[string][]string{
		"dind":        rowNames(dindVars),
		"doctor":      rowNames(doctorVars),
		"adopt-proxy": rowNames(adoptVars),
		"health":      rowNames(healthVars),
	} {
		root := Root()
		var out strings.Builder
		root.SetOut(&out)
		root.SetArgs([]string{cmd, "--help"})
		if err := root.Execute(); err != nil {
			t.Fatalf("envbox %s --help: %v", cmd, err)
		}
		for _, l := range labels {
			if !strings.Contains(out.String(), "\n  "+l) {
				t.Errorf("envbox %s --help lacks %q:\n%s", cmd, l, out.String())
			}
		}
	}
}

func rowNames[C any](rows varTable[C]) []string {
	var names []string
	for _, v := range rows {
		if v.env != "" {
			names = append(names, v.env)
		} else {
			names = append(names, "--"+v.flag)
		}
	}
	return names
}

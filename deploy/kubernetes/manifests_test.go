package kubernetes

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// object is the part of a Kubernetes object the tests read; Raw keeps the
// whole document for kind-specific checks.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Spec podSpec           `yaml:"spec"`
	Data map[string]string `yaml:"data"`
}

type podSpec struct {
	RuntimeClassName              string      `yaml:"runtimeClassName"`
	TerminationGracePeriodSeconds int         `yaml:"terminationGracePeriodSeconds"`
	InitContainers                []container `yaml:"initContainers"`
	Containers                    []container `yaml:"containers"`
	Volumes                       []struct {
		Name     string    `yaml:"name"`
		EmptyDir *struct{} `yaml:"emptyDir"`
	} `yaml:"volumes"`
	Kprobes []struct {
		Call string `yaml:"call"`
	} `yaml:"kprobes"`
}

type container struct {
	Name            string   `yaml:"name"`
	Command         []string `yaml:"command"`
	Args            []string `yaml:"args"`
	RestartPolicy   string   `yaml:"restartPolicy"`
	SecurityContext struct {
		Privileged bool `yaml:"privileged"`
	} `yaml:"securityContext"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			ResourceFieldRef *struct {
				ContainerName string `yaml:"containerName"`
				Resource      string `yaml:"resource"`
				Divisor       string `yaml:"divisor"`
			} `yaml:"resourceFieldRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

// decodeAll parses every YAML document of path; unknown fields are an
// error only for the fields object names, so a typo there fails.
func decodeAll(t *testing.T, path string) []object {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var objs []object
	for i := 1; ; i++ {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("%s document %d: %v", path, i, err)
		}
		if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
			t.Errorf("%s document %d: apiVersion %q, kind %q, metadata.name %q: want all three", path, i, o.APIVersion, o.Kind, o.Metadata.Name)
		}
		objs = append(objs, o)
	}
}

// TestManifests: every file parses, and holds exactly the objects listed.
func TestManifests(t *testing.T) {
	t.Parallel()
	want := map[string][]string{
		"dind-sidecar.yaml":           {"v1 Pod ci-job"},
		"falco-rules.yaml":            {"v1 ConfigMap falco-envbox-rules"},
		"tetragon-tracingpolicy.yaml": {"cilium.io/v1alpha1 TracingPolicyNamespaced envbox-inner-connect"},
		"workspace-pod.yaml":          {"v1 Pod coder-workspace"},
	}
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(want) {
		t.Errorf("manifests %q, want the %d files of the table", files, len(want))
	}
	for _, f := range files {
		var got []string
		for _, o := range decodeAll(t, f) {
			got = append(got, o.APIVersion+" "+o.Kind+" "+o.Metadata.Name)
		}
		if !slices.Equal(got, want[f]) {
			t.Errorf("%s holds %q, want %q", f, got, want[f])
		}
	}
}

// TestWorkspacePod: sysbox runtime, `envbox docker`, and CODER_CPUS and
// CODER_MEMORY fed from the workspace container's own limits.
func TestWorkspacePod(t *testing.T) {
	t.Parallel()
	pod := decodeAll(t, "workspace-pod.yaml")[0]
	if pod.Spec.RuntimeClassName != "sysbox-runc" {
		t.Errorf("runtimeClassName %q, want sysbox-runc", pod.Spec.RuntimeClassName)
	}
	c := pod.Spec.Containers[0]
	if !slices.Equal(c.Command, []string{"envbox", "docker"}) || c.Args != nil {
		t.Errorf("command %q, args %q; want [envbox docker], none", c.Command, c.Args)
	}
	refs := map[string]string{}
	var names []string
	for _, e := range c.Env {
		names = append(names, e.Name)
		if e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil {
			r := e.ValueFrom.ResourceFieldRef
			refs[e.Name] = r.ContainerName + " " + r.Resource + " " + r.Divisor
		}
	}
	wantRefs := map[string]string{"CODER_CPUS": "workspace limits.cpu 1", "CODER_MEMORY": "workspace limits.memory 1"}
	if len(refs) != len(wantRefs) || refs["CODER_CPUS"] != wantRefs["CODER_CPUS"] || refs["CODER_MEMORY"] != wantRefs["CODER_MEMORY"] {
		t.Errorf("resourceFieldRefs %q, want %q", refs, wantRefs)
	}
	wantNames := []string{"CODER_INNER_IMAGE", "CODER_INNER_USERNAME", "CODER_AGENT_URL", "CODER_AGENT_TOKEN", "CODER_BOOTSTRAP_SCRIPT",
		"CODER_CPUS", "CODER_MEMORY", "CODER_INNER_HOSTNAME", "ENVBOX_INNER_RUNTIME", "ENVBOX_STOP_GRACE"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("env %q, want %q", names, wantNames)
	}
	// envbox docker stops the workspace within ENVBOX_STOP_GRACE, then
	// dockerd within 10 s: the kubelet must wait for both.
	for _, e := range c.Env {
		if e.Name != "ENVBOX_STOP_GRACE" {
			continue
		}
		grace, err := time.ParseDuration(e.Value)
		if pod := time.Duration(pod.Spec.TerminationGracePeriodSeconds) * time.Second; err != nil || grace+10*time.Second >= pod {
			t.Errorf("ENVBOX_STOP_GRACE %q + 10s does not fit terminationGracePeriodSeconds %s", e.Value, pod)
		}
	}
}

// TestDindSidecar: a privileged `envbox dind` sidecar with docker:dind's TLS
// directory and an emptyDir for /var/lib/docker.
func TestDindSidecar(t *testing.T) {
	t.Parallel()
	pod := decodeAll(t, "dind-sidecar.yaml")[0]
	if len(pod.Spec.InitContainers) != 1 {
		t.Fatalf("init containers %d, want the dind sidecar", len(pod.Spec.InitContainers))
	}
	s := pod.Spec.InitContainers[0]
	if !slices.Equal(s.Command, []string{"envbox", "dind"}) || s.Args != nil || !s.SecurityContext.Privileged || s.RestartPolicy != "Always" {
		t.Errorf("sidecar command %q, args %q, privileged %v, restartPolicy %q; want [envbox dind], none, true, Always",
			s.Command, s.Args, s.SecurityContext.Privileged, s.RestartPolicy)
	}
	if len(s.Env) != 1 || s.Env[0].Name != "DOCKER_TLS_CERTDIR" || s.Env[0].Value != "/certs" {
		t.Errorf("sidecar env %+v, want DOCKER_TLS_CERTDIR=/certs", s.Env)
	}
	emptyDirs := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		emptyDirs[v.Name] = v.EmptyDir != nil
	}
	mounts := map[string]string{}
	for _, m := range s.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	if v := mounts["/var/lib/docker"]; v == "" || !emptyDirs[v] {
		t.Errorf("/var/lib/docker mounted from %q (emptyDir %v), want an emptyDir volume", v, emptyDirs[v])
	}
}

// TestFalcoRules: the ConfigMap's rules file is a Falco rules list whose
// rule has every required field.
func TestFalcoRules(t *testing.T) {
	t.Parallel()
	cm := decodeAll(t, "falco-rules.yaml")[0]
	var items []map[string]any
	if err := yaml.Unmarshal([]byte(cm.Data["envbox-rules.yaml"]), &items); err != nil {
		t.Fatalf("envbox-rules.yaml: %v", err)
	}
	var kinds []string
	for _, it := range items {
		switch {
		case it["macro"] != nil:
			kinds = append(kinds, "macro "+it["macro"].(string))
		case it["list"] != nil:
			kinds = append(kinds, "list "+it["list"].(string))
		case it["rule"] != nil:
			kinds = append(kinds, "rule "+it["rule"].(string))
			for _, f := range []string{"desc", "condition", "output", "priority"} {
				if s, _ := it[f].(string); s == "" {
					t.Errorf("rule %q: %s missing", it["rule"], f)
				}
			}
		}
	}
	want := []string{"macro envbox_inner_container", "list envbox_shells", "rule Shell in an envbox inner container"}
	if !slices.Equal(kinds, want) {
		t.Errorf("falco items %q, want %q", kinds, want)
	}
}

// TestTetragonPolicy: a namespaced policy selecting the workspace pods.
func TestTetragonPolicy(t *testing.T) {
	t.Parallel()
	p := decodeAll(t, "tetragon-tracingpolicy.yaml")[0]
	if len(p.Spec.Kprobes) != 1 || p.Spec.Kprobes[0].Call != "tcp_connect" || p.Metadata.Namespace != "coder" {
		t.Errorf("kprobes %+v in namespace %q, want tcp_connect in coder", p.Spec.Kprobes, p.Metadata.Namespace)
	}
}

package doctor

import "github.com/envbox/envbox/xunix"

// Report is everything doctor found. Its JSON form is what `envbox doctor
// --json` prints.
type Report struct {
	// Mode is how the reader's mount table holds cgroups: v1, hybrid or v2.
	Mode xunix.CgroupMode `json:"cgroup_mode"`
	// Version is the cgroup version attribution is checked on: 2 when a
	// cgroup2 hierarchy is mounted, else 1 (and nothing can be checked).
	Version int `json:"cgroup_version"`
	// Mount is the cgroup2 mount point that shows the pod's cgroup.
	Mount string `json:"cgroup2_mount"`
	// NamespaceRoot is that mount's root as the reader's cgroup namespace
	// names it: "/" when it was mounted in the pod's own namespace.
	NamespaceRoot string `json:"cgroupns_root"`
	// HostRoot is the host's path of NamespaceRoot and HostRootSource where
	// it came from: "mountinfo" or "--host-cgroup-root".
	HostRoot       string `json:"host_cgroup_root"`
	HostRootSource string `json:"host_cgroup_root_source"`
	// PodCgroup is envbox's own cgroup root: its cgroup, or the parent of
	// its "init" leaf once delegated. Every subject must be at or below it.
	PodCgroup  string     `json:"pod_cgroup"`
	Delegation Delegation `json:"delegation"`
	Limits     Limits     `json:"limits"`
	// Reserve is the headroom kept for the daemons (ENVBOX_RESERVE_*).
	Reserve Reserve `json:"reserve"`
	// Docker is the daemon asked for its containers; DockerNote says why
	// none were checked (no socket).
	Docker     string    `json:"docker"`
	DockerNote string    `json:"docker_note,omitempty"`
	Subjects   []Subject `json:"subjects"`
	// Cgroups are every cgroup at or below the pod's with its processes,
	// whatever runtime made them; no Docker API needed.
	Cgroups []Cgroup `json:"cgroups"`
	// Outside are envbox's descendants whose cgroup is not below the pod.
	Outside []Process `json:"outside_pod"`
	// Offenders is one line per failed check; empty means exit 0.
	Offenders []string `json:"offenders"`
	// Advice is printed once delegation is detected: how attribution tools
	// map the nested cgroups to the pod.
	Advice []string `json:"advice,omitempty"`
}

// Delegation is the state of the pod's cgroup directory.
type Delegation struct {
	// Delegated: the "init" leaf exists and every controller of
	// cgroup.controllers is enabled in cgroup.subtree_control.
	Delegated      bool     `json:"delegated"`
	Dir            string   `json:"dir"`
	InitPresent    bool     `json:"init_present"`
	Controllers    []string `json:"controllers"`
	SubtreeControl []string `json:"subtree_control"`
	NotEnabled     []string `json:"not_enabled"`
	Error          string   `json:"error,omitempty"`
}

// Limits are the pod's effective CPU and memory limits.
type Limits struct {
	CPU    Limit `json:"cpu"`
	Memory Limit `json:"memory"`
}

// Limit is one limit: Value is "max" or a number ("0.5" CPUs, bytes),
// Source the file it was read from.
type Limit struct {
	Value  string `json:"value,omitempty"`
	Source string `json:"source,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Subject is envbox itself or one running container.
type Subject struct {
	Kind string `json:"kind"` // "envbox" or "container"
	Name string `json:"name"`
	ID   string `json:"id,omitempty"`
	PID  int    `json:"pid"`
	// Cgroup is the cgroup v2 path as the reader's namespace names it.
	Cgroup string `json:"cgroup"`
	// HostCgroup is HostRoot plus Cgroup relative to NamespaceRoot.
	HostCgroup string `json:"host_cgroup"`
	// CgroupID is the inode of the cgroup directory: what bpf_get_current_cgroup_id
	// returns, and what Tetragon and Falco key on.
	CgroupID   uint64 `json:"cgroup_id"`
	Attributed bool   `json:"attributed"`
	Problem    string `json:"problem,omitempty"`
}

const (
	kindEnvbox    = "envbox"
	kindContainer = "container"
	// initLeaf is where the delegation script moves the pod's processes.
	initLeaf = "init"
	// Sources of Report.HostRoot.
	sourceMountinfo = "mountinfo"
	sourceFlag      = "--host-cgroup-root"
)

// advice is what the human output and the JSON carry once delegation is
// detected.
var advice = []string{
	"Tetragon: run with --enable-cgidmap and --enable-cgtrackerid; cgroups created under the pod " +
		"(<pod>/docker/<id>) inherit its tracker ID and map to the pod, cgroups beside it never do",
	"Falco: container.id is the innermost container's; take the pod's identity from the cgroup " +
		"path (proc.cgroups), which starts with the pod's cgroup",
}

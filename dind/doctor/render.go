package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteHuman writes the report for a person: facts, one table row per
// subject, the advice, and the verdict with every offender.
func WriteHuman(w io.Writer, r Report) error {
	var b strings.Builder
	if r.Version != 2 {
		fmt.Fprintf(&b, "cgroup mode:    %s (no cgroup2 mount shows the pod: attribution cannot be checked)\n", r.Mode)
	} else {
		fmt.Fprintf(&b, "cgroup mode:    %s (attribution checked on cgroup v2)\n", r.Mode)
		fmt.Fprintf(&b, "cgroup2 mount:  %s (cgroupns root %s)\n", r.Mount, r.NamespaceRoot)
		fmt.Fprintf(&b, "host root:      %s (from %s)\n", r.HostRoot, r.HostRootSource)
		fmt.Fprintf(&b, "pod cgroup:     %s\n", r.PodCgroup)
		fmt.Fprintf(&b, "delegation:     %s\n", delegationLine(r.Delegation))
		fmt.Fprintf(&b, "limits:         cpu %s; memory %s\n", limitText(r.Limits.CPU), limitText(r.Limits.Memory))
		fmt.Fprintf(&b, "reserve:        %s\n", reserveLine(r.Reserve))
	}
	fmt.Fprintf(&b, "docker:         %s\n\n", dockerLine(r))
	subjectTable(&b, r.Subjects)
	if len(r.Cgroups) > 0 {
		b.WriteString("\ncgroups at or below the pod:\n")
		cgroupTable(&b, r.Cgroups)
	}
	if len(r.Advice) > 0 {
		b.WriteString("\nattribution tools:\n")
		for _, a := range r.Advice {
			fmt.Fprintf(&b, "  - %s\n", a)
		}
	}
	b.WriteString("\n" + verdict(r))
	_, err := io.WriteString(w, b.String())
	return err
}

func delegationLine(d Delegation) string {
	if d.Error != "" {
		return "unknown: " + d.Error
	}
	state := "no"
	if d.Delegated {
		state = "yes"
	}
	init := "absent"
	if d.InitPresent {
		init = "present"
	}
	s := fmt.Sprintf("%s (%s/%s %s; subtree_control %q of cgroup.controllers %q)", state, d.Dir, initLeaf, init,
		strings.Join(d.SubtreeControl, " "), strings.Join(d.Controllers, " "))
	if len(d.NotEnabled) > 0 {
		s += "; not enabled: " + strings.Join(d.NotEnabled, " ")
	}
	return s
}

func limitText(l Limit) string {
	if l.Error != "" {
		return "unknown (" + l.Error + ")"
	}
	return l.Value + " (" + l.Source + ")"
}

func dockerLine(r Report) string {
	if r.DockerNote != "" {
		return r.Docker + ": " + r.DockerNote
	}
	n := 0
	for _, s := range r.Subjects {
		if s.Kind == kindContainer {
			n++
		}
	}
	return fmt.Sprintf("%s: %d running container(s)", r.Docker, n)
}

func subjectTable(b *strings.Builder, subjects []Subject) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tPID\tCGROUP\tHOST CGROUP\tCGROUP ID\tATTRIBUTED")
	for _, s := range subjects {
		ok := "yes"
		if !s.Attributed {
			ok = "NO"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", s.Kind, s.Name, s.PID, dash(s.Cgroup), dash(s.HostCgroup), cgroupID(s.CgroupID), ok)
	}
	_ = tw.Flush()
}

func cgroupTable(b *strings.Builder, cgroups []Cgroup) {
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CGROUP\tHOST CGROUP\tCGROUP ID\tPROCESSES")
	for _, c := range cgroups {
		procs := make([]string, 0, len(c.Processes))
		for _, p := range c.Processes {
			procs = append(procs, fmt.Sprintf("%d (%s)", p.PID, p.Comm))
		}
		last := dash(strings.Join(procs, ", "))
		if c.Error != "" {
			last = "error: " + c.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Path, dash(c.HostPath), cgroupID(c.CgroupID), last)
	}
	_ = tw.Flush()
}

func verdict(r Report) string {
	if len(r.Offenders) == 0 {
		return "result: every process is attributed to the pod\n"
	}
	s := fmt.Sprintf("result: %d not attributed:\n", len(r.Offenders))
	for _, o := range r.Offenders {
		s += "  - " + o + "\n"
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cgroupID(id uint64) string {
	if id == 0 {
		return "-"
	}
	return strconv.FormatUint(id, 10)
}

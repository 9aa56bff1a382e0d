package adopt

import (
	"bytes"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// treatment is what the proxy does with a request on a route.
type treatment int

const (
	// pass: forwarded byte for byte; the route carries no cgroup parent
	// and no HostConfig.
	pass treatment = iota
	// adoptCreate: the body's HostConfig.CgroupParent is set or checked.
	adoptCreate
	// emptyStart: API < 1.24 decodes a HostConfig from a start body and
	// replaces the container's with it; only an empty body, {} or null is
	// accepted, and dockerd receives none.
	emptyStart
	// checkUpdate: the body may not name a CgroupParent.
	checkUpdate
	// adoptBuild: the cgroupparent query parameter is set or checked; a
	// form body (where dockerd would also look) is refused.
	adoptBuild
	// refuse: the route can place a container where the proxy cannot see
	// or check it.
	refuse
)

// route is one of dockerd's POST or PUT routes, written as dockerd's router
// (api/server/router/*) registers it, without the "/v{version}" prefix.
type route struct {
	method, pattern string
	treat           treatment
	why             string // refuse: the reason
	re              *regexp.Regexp
}

const (
	whyBuildKit = "BuildKit carries its build options, cgroup parent included, inside gRPC that the proxy cannot inspect, " +
		"and runs RUN steps outside the caller's cgroup; use the classic builder (DOCKER_BUILDKIT=0)"
	whySwarm  = "swarm tasks are created by dockerd itself, in its own cgroup, not the caller's"
	whyPlugin = "a managed plugin runs as dockerd's own container, outside any caller's cgroup"
)

// routes is every POST and PUT route of dockerd 20.10 to 28 that the proxy
// knows. Any other POST or PUT, and any method but GET, HEAD and DELETE
// (which carry no configuration), is refused: a route a newer dockerd adds
// is closed until it is modelled here.
var routes = compileRoutes([]route{
	{method: "POST", pattern: "/containers/create", treat: adoptCreate},
	{method: "POST", pattern: "/containers/{name:.*}/start", treat: emptyStart},
	{method: "POST", pattern: "/containers/{name:.*}/update", treat: checkUpdate},
	{method: "POST", pattern: "/containers/{name:.*}/kill"},
	{method: "POST", pattern: "/containers/{name:.*}/pause"},
	{method: "POST", pattern: "/containers/{name:.*}/unpause"},
	{method: "POST", pattern: "/containers/{name:.*}/restart"},
	{method: "POST", pattern: "/containers/{name:.*}/stop"},
	{method: "POST", pattern: "/containers/{name:.*}/wait"},
	{method: "POST", pattern: "/containers/{name:.*}/resize"},
	{method: "POST", pattern: "/containers/{name:.*}/attach"},
	{method: "POST", pattern: "/containers/{name:.*}/copy"},
	{method: "POST", pattern: "/containers/{name:.*}/exec"},
	{method: "POST", pattern: "/containers/{name:.*}/rename"},
	{method: "POST", pattern: "/containers/{name:.*}/checkpoints"},
	{method: "POST", pattern: "/containers/prune"},
	{method: "POST", pattern: "/exec/{name:.*}/start"},
	{method: "POST", pattern: "/exec/{name:.*}/resize"},
	{method: "POST", pattern: "/commit"},
	{method: "PUT", pattern: "/containers/{name:.*}/archive"},
	{method: "POST", pattern: "/images/create"},
	{method: "POST", pattern: "/images/load"},
	{method: "POST", pattern: "/images/prune"},
	{method: "POST", pattern: "/images/{name:.*}/push"},
	{method: "POST", pattern: "/images/{name:.*}/tag"},
	{method: "POST", pattern: "/networks/create"},
	{method: "POST", pattern: "/networks/prune"},
	{method: "POST", pattern: "/networks/{id:.*}/connect"},
	{method: "POST", pattern: "/networks/{id:.*}/disconnect"},
	{method: "POST", pattern: "/volumes/create"},
	{method: "POST", pattern: "/volumes/prune"},
	{method: "PUT", pattern: "/volumes/{name:.*}"},
	{method: "POST", pattern: "/auth"},
	{method: "POST", pattern: "/build", treat: adoptBuild},
	{method: "POST", pattern: "/build/prune"},
	{method: "POST", pattern: "/build/cancel"},
	{method: "POST", pattern: "/session", treat: refuse, why: whyBuildKit},
	{method: "POST", pattern: "/grpc", treat: refuse, why: whyBuildKit},
	{method: "POST", pattern: "/swarm/init", treat: refuse, why: whySwarm},
	{method: "POST", pattern: "/swarm/join", treat: refuse, why: whySwarm},
	{method: "POST", pattern: "/swarm/leave"},
	{method: "POST", pattern: "/swarm/update"},
	{method: "POST", pattern: "/swarm/unlock"},
	{method: "POST", pattern: "/services/create", treat: refuse, why: whySwarm},
	{method: "POST", pattern: "/services/{id}/update", treat: refuse, why: whySwarm},
	{method: "POST", pattern: "/nodes/{id}/update"},
	{method: "POST", pattern: "/secrets/create"},
	{method: "POST", pattern: "/secrets/{id}/update"},
	{method: "POST", pattern: "/configs/create"},
	{method: "POST", pattern: "/configs/{id}/update"},
	{method: "POST", pattern: "/plugins/pull", treat: refuse, why: whyPlugin},
	{method: "POST", pattern: "/plugins/create", treat: refuse, why: whyPlugin},
	{method: "POST", pattern: "/plugins/{name:.*}/enable", treat: refuse, why: whyPlugin},
	{method: "POST", pattern: "/plugins/{name:.*}/upgrade", treat: refuse, why: whyPlugin},
	{method: "POST", pattern: "/plugins/{name:.*}/set", treat: refuse, why: whyPlugin},
	{method: "POST", pattern: "/plugins/{name:.*}/disable"},
	{method: "POST", pattern: "/plugins/{name:.*}/push"},
})

// templateVar is a gorilla/mux variable: {name} or {name:regexp}.
var templateVar = regexp.MustCompile(`\{[a-z]+(:[^}]*)?\}`)

func compileRoutes(rs []route) []route {
	for i := range rs {
		parts := templateVar.Split(rs[i].pattern, -1)
		vars := templateVar.FindAllStringSubmatch(rs[i].pattern, -1)
		var b strings.Builder
		b.WriteString("^")
		for j, p := range parts {
			b.WriteString(regexp.QuoteMeta(p))
			if j < len(vars) {
				if re := strings.TrimPrefix(vars[j][1], ":"); re != "" {
					b.WriteString("(?:" + re + ")")
				} else {
					b.WriteString("[^/]+")
				}
			}
		}
		rs[i].re = regexp.MustCompile(b.String() + "$")
	}
	return rs
}

// versionPrefix is dockerd's "/v{version:[0-9.]+}".
var versionPrefix = regexp.MustCompile(`^/v[0-9.]+/`)

// passAll is the treatment of GET, HEAD and DELETE.
var passAll = &route{treat: pass}

// classify finds the route of a request, or says why it is refused. The
// path is read as dockerd's router reads it (percent-decoded), and a path
// dockerd would not route as it stands (not clean, so redirected; an
// encoded slash) is refused rather than guessed at.
func classify(method, target []byte) (*route, error) {
	switch string(method) {
	case "GET", "HEAD", "DELETE":
		return passAll, nil
	case "POST", "PUT":
	default:
		return nil, fmt.Errorf("method %q is not one the Docker API uses", method)
	}
	rawPath, _, _ := bytes.Cut(target, []byte("?"))
	if bytes.Contains(bytes.ToLower(rawPath), []byte("%2f")) {
		return nil, fmt.Errorf("%s %s: an encoded slash in the path is ambiguous", method, target)
	}
	u, err := url.ParseRequestURI(string(target))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", method, target, err)
	}
	p := u.Path
	if path.Clean(p) != p {
		return nil, fmt.Errorf("%s %s: path is not in clean form (dockerd would redirect it)", method, target)
	}
	if loc := versionPrefix.FindStringIndex(p); loc != nil {
		p = p[loc[1]-1:]
	}
	for i := range routes {
		r := &routes[i]
		if r.method == string(method) && r.re.MatchString(p) {
			if r.treat == refuse {
				return nil, fmt.Errorf("%s %s: %s", method, target, r.why)
			}
			return r, nil
		}
	}
	return nil, fmt.Errorf("%s %s: not a route the proxy models, so it cannot tell whether it carries a HostConfig or a cgroup parent", method, target)
}

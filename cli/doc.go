// Package cli owns envbox's cobra commands (dind, run, docker, doctor,
// adopt-proxy, health), the mapping between flags and environment variables,
// configuration validation, logging with secret redaction, and exit codes.
// It supervises no process and calls no Docker API: packages dind and
// dind/workspace do, and return typed errors that cli maps to exit codes.
//
// Every command reads its flags and variables through one table (varTable
// in vars.go): a row names the variable and/or the flag, the default, the
// meaning and what it conflicts with, and drives the parser, --help, the
// blocks below and the tables of docs/<command>.md. The rule for all commands: a flag
// wins over its variable; an empty value is unset, except where a row says
// what a set but empty variable means (docker:dind's DOCKER_TLS_CERTDIR and
// DOCKER_IPTABLES_LEGACY). The blocks are generated; after changing a row run
// go generate ./cli (TestDocsMatchTables fails while they are stale).
//
// `envbox dind` (its flags go before "--"; everything after, or every
// argument when there is no "--", follows docker:dind's entrypoint):
//
// BEGIN envbox dind environment (generated from dindVars; do not edit)
//
//	ENVBOX_ISOLATED_MOUNT (--isolated-mount)
//		also unshare the mount namespace, so the cgroup2 remount stays private to dockerd instead of showing in this container
//		default: false; conflicts: breaks sysbox-fs mount propagation unless /var/lib/sysboxfs is rshared first
//	ENVBOX_STOP_GRACE (--stop-grace)
//		time dockerd (and in command mode the command) gets between SIGTERM and SIGKILL, on a stop or a restart
//		default: 10s; conflicts: also read by envbox docker, where it is the workspace's grace (default 15s)
//	ENVBOX_DOCKERD_TIMEOUT (--ready-timeout)
//		command mode: how long to wait for the Docker API before the command starts
//		default: 60s; conflicts: envbox docker reads the same variable for the same wait (flag --dockerd-timeout there)
//	ENVBOX_DELEGATE_ATTEMPTS (--delegate-attempts)
//		bound on the delegation script's attempts
//		default: 100; conflicts: -
//	ENVBOX_DOCKERD_RESTARTS (--dockerd-restarts)
//		dockerd restarts allowed per 10 minutes, back-off 250ms doubling to 8s; 0 = never (docker:dind's behaviour)
//		default: 3; conflicts: -
//	ENVBOX_MTU (--dockerd-mtu)
//		MTU of dockerd's bridge, from 68 to 65535; 0 = dockerd's default
//		default: the default route's interface MTU when below 1500, else dockerd's (1500); conflicts: a --mtu among dockerd's arguments or "mtu" in its daemon.json wins
//	ENVBOX_RESERVE_MEMORY (--reserve-memory)
//		memory kept for envbox, dockerd and containerd: the containers' parent cgroup (/docker, or dockerd's --cgroup-parent) gets the pod's memory.max minus this. "auto" = max(192Mi, 10%) capped at 1Gi and at half the pod; N% of the pod; bytes, optionally with Ki, Mi, Gi or Ti; 0 = off
//		default: auto; conflicts: nothing is reserved on a pod without a memory limit, on cgroup v1 or hybrid hosts, or with the systemd cgroup driver
//	ENVBOX_RESERVE_PIDS (--reserve-pids)
//		tasks kept for envbox, dockerd, containerd and the shims: the containers' parent cgroup gets the pod's pids.max minus this. "auto" = max(128, 5%) capped at 1024 and at half the pod; N% of the pod; a whole number; 0 = off
//		default: auto; conflicts: nothing is reserved on a pod without a pids limit, on cgroup v1 or hybrid hosts, or with the systemd cgroup driver
//	ENVBOX_RESERVE_EXEC_PIDS (--reserve-exec-pids)
//		tasks kept for docker exec and new containers when one container forks without bound: while dockerd runs, each new container whose pids.max is max gets the containers' parent cgroup's pids.max minus this; 0 = off
//		default: 32; conflicts: only when the parent has a numeric pids.max (the reserve applied); a container's own --pids-limit wins
//	ENVBOX_LOG_FORMAT (--log-format)
//		"json" or "human"
//		default: human on a terminal, else json; conflicts: -
//	DOCKER_TLS_CERTDIR
//		an absolute directory: certificates generated there (or verified, when there is no CA key) and TLS on 2376 with --tlsverify; docker:dind's image sets /certs
//		default: unix socket only; set but empty: plain TCP on 2375 (--tls=false); conflicts: -
//	DOCKER_TLS_SAN
//		extra certificate SANs, "DNS:name,IP:addr"
//		default: unset; conflicts: only with DOCKER_TLS_CERTDIR a directory
//	DOCKER_HOST
//		unix:///PATH moves dockerd's unix socket (tcp://HOST:PORT is accepted and moves nothing); the command gets DOCKER_HOST pointing at dockerd
//		default: unix:///var/run/docker.sock; conflicts: -
//	DOCKER_IPTABLES_LEGACY
//		non-empty: dockerd uses iptables-legacy
//		default: legacy when legacy rules exist or only iptables-legacy works, else nft; set but empty: nft; conflicts: -
//
// END envbox dind environment (generated from dindVars; do not edit)
//
// `envbox run` (its flags go before "--"; CMD and its arguments after it):
//
// BEGIN envbox run environment (generated from runVars; do not edit)
//
//	--name
//		the binary CMD must become after the wrapper execs it (a launcher script that execs k3s: --name=k3s); envbox reports, as an error, a process that never does
//		default: the basename of CMD; conflicts: -
//	ENVBOX_RESTARTS (--restarts)
//		restarts of CMD allowed per 10 minutes, through the delegation wrapper, back-off 250ms doubling to 8s; 0 = envbox exits with CMD's status
//		default: 0; conflicts: -
//	ENVBOX_CGROUP_PARENT (--cgroup-parent)
//		the cgroup, as the pod sees it once delegated, under which CMD creates its workloads' cgroups (/kubepods for kubelet, /default for containerd's default namespace): the delegation hook gives it the pod's limits minus the headroom reserve before CMD starts; none = no reserve
//		default: none; conflicts: -
//	ENVBOX_RESERVE_MEMORY (--reserve-memory)
//		memory kept for envbox and CMD: the workloads' parent cgroup (--cgroup-parent) gets the pod's memory.max minus this. "auto" = max(192Mi, 10%) capped at 1Gi and at half the pod; N% of the pod; bytes, optionally with Ki, Mi, Gi or Ti; 0 = off
//		default: auto; conflicts: nothing is reserved on a pod without a memory limit, on cgroup v1 or hybrid hosts, or without --cgroup-parent
//	ENVBOX_RESERVE_PIDS (--reserve-pids)
//		tasks kept for envbox and CMD: the workloads' parent cgroup (--cgroup-parent) gets the pod's pids.max minus this. "auto" = max(128, 5%) capped at 1024 and at half the pod; N% of the pod; a whole number; 0 = off
//		default: auto; conflicts: nothing is reserved on a pod without a pids limit, on cgroup v1 or hybrid hosts, or without --cgroup-parent
//	ENVBOX_ISOLATED_MOUNT (--isolated-mount)
//		also unshare the mount namespace, so the cgroup2 remount stays private to CMD instead of showing in this container
//		default: false; conflicts: breaks sysbox-fs mount propagation unless /var/lib/sysboxfs is rshared first
//	ENVBOX_STOP_GRACE (--stop-grace)
//		time CMD gets between the forwarded SIGTERM/SIGINT/SIGQUIT and SIGKILL
//		default: 10s; conflicts: -
//	ENVBOX_IDENTIFY_TIMEOUT (--identify-timeout)
//		how long each start may spend in the wrapper before CMD must be running as --name
//		default: 30s; conflicts: -
//	ENVBOX_DELEGATE_ATTEMPTS (--delegate-attempts)
//		bound on the delegation script's attempts
//		default: 100; conflicts: -
//	ENVBOX_LOG_FORMAT (--log-format)
//		"json" or "human"
//		default: human on a terminal, else json; conflicts: -
//
// END envbox run environment (generated from runVars; do not edit)
//
// `envbox docker` (every row is a variable and a flag):
//
// BEGIN envbox docker environment (generated from dockerVars; do not edit)
//
//	CODER_INNER_IMAGE (--image)
//		image of the inner workspace container
//		default: required; conflicts: -
//	CODER_INNER_USERNAME (--username)
//		user the bootstrap script runs as inside the workspace
//		default: required; conflicts: -
//	CODER_AGENT_TOKEN (--agent-token)
//		Coder agent token, given to the bootstrap script only; redacted from every log line
//		default: required; conflicts: a flag shows in /proc/*/cmdline: prefer the variable
//	CODER_AGENT_URL (--agent-url)
//		URL of the Coder deployment, passed into the workspace
//		default: unset; conflicts: -
//	CODER_AGENT_SUBSYSTEM (--agent-subsystem)
//		comma list passed into the workspace; "envbox" is always added
//		default: envbox; conflicts: -
//	CODER_INNER_ENVS (--envs)
//		comma list of outer variables copied into the workspace: NAME or PREFIX_*
//		default: unset; conflicts: never copies CODER_AGENT_TOKEN or CODER_IMAGE_PULL_SECRET
//	CODER_INNER_HOSTNAME (--hostname)
//		hostname of the workspace
//		default: the container name; conflicts: -
//	CODER_INNER_WORK_DIR (--work-dir)
//		working directory of the workspace (absolute)
//		default: the image's; conflicts: -
//	CODER_IMAGE_PULL_SECRET (--image-secret)
//		a .dockerconfigjson document used to pull the image; never logged
//		default: unset; conflicts: wins over CODER_DOCKER_CONFIG
//	CODER_DOCKER_CONFIG (--docker-config)
//		docker config file consulted for pull credentials when it exists
//		default: /root/.docker/config.json; conflicts: ignored when CODER_IMAGE_PULL_SECRET is set
//	CODER_DOCKER_BRIDGE_CIDR (--bridge-cidr)
//		IPv4 CIDR of the inner dockerd's bridge (--bip and --fixed-cidr)
//		default: 172.19.0.1/30; conflicts: -
//	CODER_BOOTSTRAP_SCRIPT (--bootstrap-script)
//		shell script run with /bin/sh -s as the user once the workspace started; usually starts the agent
//		default: none: no bootstrap; conflicts: -
//	CODER_MOUNTS (--mounts)
//		comma list of bind mounts "src:dst[:ro]", absolute paths
//		default: unset; conflicts: -
//	CODER_USR_LIB_DIR (--usr-lib-dir)
//		outer directory holding the host's GPU driver libraries
//		default: unset; conflicts: required by CODER_ADD_GPU
//	CODER_INNER_USR_LIB_DIR (--inner-usr-lib-dir)
//		where GPU libraries go in the workspace
//		default: from the image's /etc/os-release; conflicts: only used with CODER_ADD_GPU
//	CODER_ADD_TUN (--add-tun)
//		give the workspace /dev/net/tun
//		default: false; conflicts: -
//	CODER_ADD_FUSE (--add-fuse)
//		give the workspace /dev/fuse
//		default: false; conflicts: -
//	CODER_ADD_GPU (--add-gpu)
//		give the workspace the outer /dev/nvidia* devices and driver libraries
//		default: false; conflicts: needs CODER_USR_LIB_DIR
//	CODER_CPUS (--cpus)
//		CPU limit of the workspace, e.g. 1.5
//		default: the outer cgroup's quota; conflicts: -
//	CODER_MEMORY (--memory)
//		memory limit of the workspace in bytes
//		default: the outer cgroup's limit; conflicts: -
//	CODER_DISABLE_IDMAPPED_MOUNT (--disable-idmapped-mount)
//		pass --disable-idmapped-mount to sysbox-mgr
//		default: false; conflicts: no effect without sysbox
//	CODER_EXTRA_CERTS_PATH (--extra-certs-path)
//		CA certificate file or directory (PEM): dockerd trusts it for the image's registry (/etc/docker/certs.d/<host[:port]>/ca.crt), and it is mounted read-only under /usr/local/share/ca-certificates/envbox
//		default: unset; conflicts: read before anything starts: a path holding no certificate exits 2
//	CODER_CVM_CONTAINER_NAME (--container-name)
//		name of the inner container
//		default: workspace_cvm; conflicts: -
//	CODER_DEBUG (--debug)
//		log at debug level
//		default: false; conflicts: -
//	ENVBOX_INNER_RUNTIME (--runtime)
//		OCI runtime of the workspace
//		default: sysbox-runc when sysbox is installed, else runc; conflicts: -
//	ENVBOX_DOCKERD (--dockerd)
//		dockerd binary, started through the delegation wrapper
//		default: dockerd; conflicts: -
//	ENVBOX_DOCKER_DATA_ROOT (--data-root)
//		dockerd --data-root
//		default: /var/lib/docker; conflicts: -
//	ENVBOX_DOCKER_SOCKET (--docker-socket)
//		unix socket dockerd listens on
//		default: /var/run/docker.sock; conflicts: -
//	ENVBOX_DOCKERD_EXTRA_ARGS (--dockerd-extra-args)
//		extra dockerd flags, space separated, appended after envbox's (e.g. --exec-root=/run/d --pidfile=/run/d.pid)
//		default: unset; conflicts: -
//	ENVBOX_PULL (--pull)
//		"missing": pull the image only when the data root lacks it; "always": pull at every start (a moving tag)
//		default: missing; conflicts: -
//	ENVBOX_DOCKERD_TIMEOUT (--dockerd-timeout)
//		how long to wait for the Docker API
//		default: 60s; conflicts: envbox dind reads the same variable for the same wait (flag --ready-timeout there)
//	ENVBOX_STOP_GRACE (--stop-grace)
//		time the workspace gets to stop on SIGTERM before it is killed; dockerd then gets up to 10s, so 15s + 10s fits Kubernetes' default terminationGracePeriodSeconds of 30s: keep grace + 10s below the pod's
//		default: 15s; conflicts: also read by envbox dind, where it is dockerd's grace (default 10s)
//	ENVBOX_DELEGATE_ATTEMPTS (--delegate-attempts)
//		bound on the delegation script's attempts
//		default: 100; conflicts: -
//	ENVBOX_MTU (--dockerd-mtu)
//		MTU of dockerd's bridge, from 68 to 65535; 0 = dockerd's default
//		default: the default route's interface MTU when below 1500, else dockerd's (1500); conflicts: a --mtu among dockerd's arguments or "mtu" in its daemon.json wins
//	ENVBOX_RESERVE_MEMORY (--reserve-memory)
//		memory kept for envbox, dockerd and containerd: the containers' parent cgroup (/docker, or dockerd's --cgroup-parent) gets the pod's memory.max minus this. "auto" = max(192Mi, 10%) capped at 1Gi and at half the pod; N% of the pod; bytes, optionally with Ki, Mi, Gi or Ti; 0 = off
//		default: auto; conflicts: nothing is reserved on a pod without a memory limit, on cgroup v1 or hybrid hosts, or with the systemd cgroup driver
//	ENVBOX_RESERVE_PIDS (--reserve-pids)
//		tasks kept for envbox, dockerd, containerd and the shims: the containers' parent cgroup gets the pod's pids.max minus this. "auto" = max(128, 5%) capped at 1024 and at half the pod; N% of the pod; a whole number; 0 = off
//		default: auto; conflicts: nothing is reserved on a pod without a pids limit, on cgroup v1 or hybrid hosts, or with the systemd cgroup driver
//	ENVBOX_LOG_FORMAT (--log-format)
//		"json" or "human"
//		default: human on a terminal, else json; conflicts: -
//
// END envbox docker environment (generated from dockerVars; do not edit)
//
// `envbox doctor`:
//
// BEGIN envbox doctor environment (generated from doctorVars; do not edit)
//
//	--json
//		print the report as JSON
//		default: false; conflicts: -
//	DOCKER_HOST (--host)
//		Docker API of the dockerd whose containers are checked (unix:///PATH or tcp://HOST:PORT)
//		default: unix:///var/run/docker.sock; conflicts: -
//	--host-cgroup-root
//		the host's path of the pod's cgroup (the cgroup2 mount's root), e.g. from the node, to print host paths
//		default: the mount's root in /proc/self/mountinfo; conflicts: -
//	--pid
//		PID of envbox in this PID namespace (1 when envbox is the container's init), or "self"
//		default: 1; conflicts: -
//
// END envbox doctor environment (generated from doctorVars; do not edit)
//
// `envbox adopt-proxy`:
//
// BEGIN envbox adopt-proxy environment (generated from adoptVars; do not edit)
//
//	--listen
//		unix socket to serve the Docker API on (path or unix://path)
//		default: /var/run/docker.sock; conflicts: -
//	--upstream
//		dockerd's real unix socket
//		default: /var/run/docker-real.sock; conflicts: -
//	--max-connections
//		client connections served at once; one more is answered 503
//		default: 1024; conflicts: -
//	--allow-override
//		let a create keep a CgroupParent other than its creator's (permissive)
//		default: false; conflicts: -
//	--debug
//		log every connection
//		default: false; conflicts: -
//	ENVBOX_LOG_FORMAT (--log-format)
//		"json" or "human"
//		default: human on a terminal, else json; conflicts: -
//
// END envbox adopt-proxy environment (generated from adoptVars; do not edit)
//
// `envbox health`:
//
// BEGIN envbox health environment (generated from healthVars; do not edit)
//
//	DOCKER_HOST (--host)
//		unix socket of the dockerd to ask (unix:///PATH)
//		default: unix:///var/run/docker.sock; conflicts: -
//	--timeout
//		how long dockerd may take to answer
//		default: 2s; conflicts: -
//
// END envbox health environment (generated from healthVars; do not edit)
package cli

// Rewrites the generated blocks above and in the commands' Markdown pages.
//go:generate go test -run ^TestDocsMatchTables$ -update .

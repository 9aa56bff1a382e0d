// Package cli owns envbox's cobra commands (dind, docker, doctor,
// adopt-proxy), the mapping between flags and environment variables,
// configuration validation, logging with secret redaction, and exit codes.
// It supervises no process and calls no Docker API: packages dind and
// dind/workspace do, and return typed errors that cli maps to exit codes.
//
// Environment variables read by `envbox dind` (its own flags go before
// "--"; everything after follows docker:dind's entrypoint):
//
//	ENVBOX_DELEGATE_ATTEMPTS  bound on the delegation script's attempts, 1..999999999 (default 100)
//	ENVBOX_DOCKERD_RESTARTS   dockerd restarts allowed per 10 minutes (default 3; 0 = never)
//	ENVBOX_LOG_FORMAT         "json" or "human" (default: human on a TTY, else json)
//	DOCKER_TLS_CERTDIR        unset: unix socket only; "": plain TCP on 2375 (--tls=false);
//	                          an absolute dir: certificates generated or verified there, TLS on 2376
//	DOCKER_TLS_SAN            extra SANs, "DNS:name,IP:addr" (with DOCKER_TLS_CERTDIR)
//	DOCKER_HOST               unix://PATH moves dockerd's unix socket
//	DOCKER_IPTABLES_LEGACY    set: non-empty = iptables-legacy, empty = nft (default: detected)
//
// Environment variables read by `envbox docker` (each is also a flag; a flag
// wins over its variable; an empty value is unset). `envbox docker --help`
// and README.md render the same table, dockerVars in docker_env.go:
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
//		CA certificate file or directory mounted read-only under /usr/local/share/ca-certificates/envbox
//		default: unset; conflicts: -
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
//	ENVBOX_DOCKERD_TIMEOUT (--dockerd-timeout)
//		how long to wait for the Docker API
//		default: 60s; conflicts: -
//	ENVBOX_STOP_GRACE (--stop-grace)
//		time the workspace gets to stop on SIGTERM (keep below the pod's terminationGracePeriodSeconds)
//		default: 25s; conflicts: -
//	ENVBOX_DELEGATE_ATTEMPTS (--delegate-attempts)
//		bound on the delegation script's attempts
//		default: 100; conflicts: -
//	ENVBOX_LOG_FORMAT (--log-format)
//		"json" or "human"
//		default: human on a terminal, else json; conflicts: -
//
// END envbox docker environment
package cli

# Shared by the image scripts (source it after lib/cache.sh): a private containers-storage and
# containers.conf under $cache/containers, so buildah and podman never touch the machine's
# default store, use runc (crun refuses this machine's cgroup v1 hybrid layout) and ulimits
# this machine allows (root lacks CAP_SYS_RESOURCE: no raising a hard limit above 20000).
# containers_env writes the files and exports the variables; $cache/containers/env holds the
# same variables for tests (KEY=VALUE lines).
containers_env() {
  local dir=$cache/containers
  mkdir -p "$dir/graph" "$dir/run" "$dir/tmp"
  cat >"$dir/storage.conf.tmp" <<EOF
[storage]
driver = "overlay"
graphroot = "$dir/graph"
runroot = "$dir/run"
EOF
  cat >"$dir/containers.conf.tmp" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
# No host name lookups from containers: no DNS server is meant to be reached from them.
dns_servers = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$dir/events.log"
[network]
default_network = "none"
EOF
  # Nothing is ever pulled: short names resolve to local images only.
  cat >"$dir/registries.conf.tmp" <<EOF
unqualified-search-registries = []
short-name-mode = "permissive"
EOF
  local f
  for f in storage.conf containers.conf registries.conf; do
    if cmp -s "$dir/$f.tmp" "$dir/$f"; then rm "$dir/$f.tmp"; else mv "$dir/$f.tmp" "$dir/$f"; fi
  done
  export CONTAINERS_STORAGE_CONF=$dir/storage.conf CONTAINERS_CONF=$dir/containers.conf \
    CONTAINERS_REGISTRIES_CONF=$dir/registries.conf BUILDAH_RUNTIME=runc TMPDIR=$dir/tmp
  cat >"$dir/env.tmp" <<EOF
CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF
CONTAINERS_CONF=$CONTAINERS_CONF
CONTAINERS_REGISTRIES_CONF=$CONTAINERS_REGISTRIES_CONF
BUILDAH_RUNTIME=runc
TMPDIR=$dir/tmp
EOF
  mv "$dir/env.tmp" "$dir/env"
}

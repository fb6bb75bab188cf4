#!/usr/bin/env bash
# A real Slurm cluster on this machine, for tests and benchmarks: Debian's slurm-wlm packages, run as root
# without systemd. One controller and several compute nodes, each in its own network namespace (a veth pair
# on a private bridge), all seeing this machine's filesystem.
#
#   tools/slurm/cluster.sh up [--accounting]   install what is missing, write the config, start, wait for idle nodes
#   tools/slurm/cluster.sh down                stop every daemon and remove the namespaces
#   tools/slurm/cluster.sh status              the nodes and their states
#   tools/slurm/cluster.sh smoke               run one job on each node
#
# Environment: SLUICE_SLURM_DIR (config, state and logs; default /tmp/sluice-slurm), SLUICE_SLURM_NODES (compute
# nodes, default 2), SLUICE_SLURM_CPUS (CPUs each node offers, default 8), SLUICE_SLURM_ACCOUNTING=1 (same as
# --accounting: slurmdbd on a local MariaDB, so that sacct answers). Clients find the cluster with
# SLURM_CONF=$SLUICE_SLURM_DIR/slurm.conf (also written to $SLUICE_SLURM_DIR/env).
set -euo pipefail

DIR="${SLUICE_SLURM_DIR:-/tmp/sluice-slurm}"
NODES="${SLUICE_SLURM_NODES:-2}"
CPUS="${SLUICE_SLURM_CPUS:-8}"
ACCOUNTING="${SLUICE_SLURM_ACCOUNTING:-0}"
CLUSTER=sluice
BRIDGE=sluice-br0
NET=10.77.0
CONTROLLER_NS=sluice-ctl
CONTROLLER_ADDR="$NET.2"
export SLURM_CONF="$DIR/slurm.conf"

say() { echo "slurm: $*" >&2; }
die() {
  say "$*"
  exit 1
}
node_name() { echo "n$1"; }
node_ns() { echo "sluice-n$1"; }
node_addr() { echo "$NET.$((10 + $1))"; }

need_root() {
  [ "$(id -u)" -eq 0 ] || die "run as root: the daemons run as root and the nodes need network namespaces"
}

install_packages() {
  local wanted=(slurmctld slurmd slurm-client munge) missing=()
  [ "$ACCOUNTING" = 1 ] && wanted+=(slurmdbd mariadb-server)
  for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  }
}

# A daemon still running from the pid file it wrote.
running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pidfile() {
  local file="$1" pid
  running "$file" || return 0
  pid="$(cat "$file")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

network_up() {
  ip link show "$BRIDGE" >/dev/null 2>&1 || {
    ip link add "$BRIDGE" type bridge
    ip addr add "$NET.1/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
  }
  namespace "$CONTROLLER_NS" sl-ctl "$CONTROLLER_ADDR"
  for i in $(seq "$NODES"); do namespace "$(node_ns "$i")" "sl-n$i" "$(node_addr "$i")"; done
}

# namespace NAME IFACE ADDRESS: a network namespace joined to the bridge by a veth pair.
namespace() {
  local ns="$1" iface="$2" addr="$3"
  ip netns list | grep -qw "^$ns" && return
  ip netns add "$ns"
  ip link add "$iface-h" type veth peer name "$iface"
  ip link set "$iface" netns "$ns"
  ip link set "$iface-h" master "$BRIDGE" up
  ip -n "$ns" addr add "$addr/24" dev "$iface"
  ip -n "$ns" link set "$iface" up
  ip -n "$ns" link set lo up
}

# Run a command in a network namespace only (`ip netns exec` would also remount /sys, hiding the cgroup
# mounts slurmd needs).
in_namespace() {
  local ns="$1"
  shift
  nsenter --net="/run/netns/$ns" "$@"
}

network_down() {
  for ns in $(ip netns list | awk '{print $1}' | grep -E '^sluice-(ctl|n[0-9]+)$' || true); do ip netns del "$ns"; done
  ip link del "$BRIDGE" 2>/dev/null || true
}

write_config() {
  mkdir -p "$DIR"/{state,log,run,spool}
  local memory
  # about 90% of RAM in MB, else a job asking for memory could never be placed
  memory=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
  {
    echo "ClusterName=$CLUSTER"
    echo "SlurmctldHost=$(hostname -s)($CONTROLLER_ADDR)"
    echo "SlurmUser=root"
    echo "SlurmdUser=root"
    echo "AuthType=auth/munge"
    echo "AuthInfo=socket=$DIR/munge/munge.socket"
    echo "ProctrackType=proctrack/linuxproc"
    echo "TaskPlugin=task/none"
    echo "SelectType=select/cons_tres"
    echo "SelectTypeParameters=CR_Core_Memory"
    # a job that names no memory gets 2 GB per CPU (8 CPUs fit a node), and is killed above what it has
    echo "DefMemPerCPU=2048"
    echo "SchedulerParameters=batch_sched_delay=0"
    echo "ReturnToService=2"
    echo "MailProg=/bin/true"
    echo "MpiDefault=none"
    echo "SlurmdParameters=config_overrides"
    echo "MinJobAge=3600"
    echo "KillWait=5"
    echo "InactiveLimit=0"
    echo "StateSaveLocation=$DIR/state"
    echo "SlurmdSpoolDir=$DIR/spool/%n"
    echo "SlurmctldPidFile=$DIR/run/slurmctld.pid"
    echo "SlurmdPidFile=$DIR/run/slurmd-%n.pid"
    echo "SlurmctldLogFile=$DIR/log/slurmctld.log"
    echo "SlurmdLogFile=$DIR/log/slurmd-%n.log"
    echo "JobAcctGatherType=jobacct_gather/linux"
    echo "JobAcctGatherFrequency=task=1"
    echo "JobAcctGatherParams=OverMemoryKill"
    if [ "$ACCOUNTING" = 1 ]; then
      echo "AccountingStorageType=accounting_storage/slurmdbd"
      echo "AccountingStorageHost=$CONTROLLER_ADDR"
      # the munge socket for the connection to slurmdbd
      echo "AccountingStoragePass=$DIR/munge/munge.socket"
    else
      echo "AccountingStorageType=accounting_storage/none"
    fi
    for i in $(seq "$NODES"); do
      echo "NodeName=$(node_name "$i") NodeAddr=$(node_addr "$i") CPUs=$CPUS RealMemory=$memory State=UNKNOWN"
    done
    echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP LLN=YES"
  } >"$SLURM_CONF"
  echo "export SLURM_CONF=$SLURM_CONF" >"$DIR/env"
}

munge_up() {
  install -d -o munge -g munge -m 0755 "$DIR/munge"
  [ -f /etc/munge/munge.key ] || { mungekey -c -k /etc/munge/munge.key && chown munge:munge /etc/munge/munge.key; }
  running "$DIR/munge/munged.pid" && return
  runuser -u munge -- /usr/sbin/munged --socket="$DIR/munge/munge.socket" --pid-file="$DIR/munge/munged.pid" \
    --log-file="$DIR/munge/munged.log" --seed-file="$DIR/munge/munged.seed"
}

database_up() {
  [ "$ACCOUNTING" = 1 ] || return 0
  local data="$DIR/mysql"
  if [ ! -d "$data/mysql" ]; then
    install -d -o mysql -g mysql "$data"
    mariadb-install-db --user=mysql --datadir="$data" --auth-root-authentication-method=socket >/dev/null 2>&1
  fi
  install -d -o mysql -g mysql /run/mysqld
  if ! running "$data/mariadb.pid"; then
    # no network: slurmdbd (root) reaches it on the default socket, authenticated by its user id
    (mariadbd --user=mysql --datadir="$data" --skip-networking --pid-file="$data/mariadb.pid" \
      --log-error="$data/mariadb.log" >/dev/null 2>&1 &)
    for _ in $(seq 100); do
      mariadb -e 'select 1' >/dev/null 2>&1 && break
      sleep 0.2
    done
  fi
  cat >"$DIR/slurmdbd.conf" <<CONF
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
DbdHost=$(hostname -s)
DbdAddr=$CONTROLLER_ADDR
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
PidFile=$DIR/run/slurmdbd.pid
LogFile=$DIR/log/slurmdbd.log
CONF
  chmod 600 "$DIR/slurmdbd.conf"
  if ! running "$DIR/run/slurmdbd.pid"; then
    # slurmdbd reads slurmdbd.conf from the folder of SLURM_CONF
    in_namespace "$CONTROLLER_NS" slurmdbd
    local deadline=$((SECONDS + 30))
    until sacctmgr -n list cluster >/dev/null 2>&1; do
      [ "$SECONDS" -lt "$deadline" ] || die "slurmdbd did not answer within 30 s; see $DIR/log/slurmdbd.log"
      sleep 0.2
    done
  fi
  sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER" || sacctmgr -i add cluster "$CLUSTER" >/dev/null
}

slurm_up() {
  running "$DIR/run/slurmctld.pid" || in_namespace "$CONTROLLER_NS" slurmctld -f "$SLURM_CONF"
  for i in $(seq "$NODES"); do
    local name
    name="$(node_name "$i")"
    running "$DIR/run/slurmd-$name.pid" || {
      mkdir -p "$DIR/spool/$name"
      in_namespace "$(node_ns "$i")" slurmd -f "$SLURM_CONF" -N "$name"
    }
  done
}

wait_idle() {
  local states
  for _ in $(seq 300); do
    states="$(sinfo -h -N -o '%N %t' 2>/dev/null || true)"
    if [ "$(grep -c ' idle$' <<<"$states" || true)" -ge "$NODES" ]; then
      say "up: $NODES nodes idle; export SLURM_CONF=$SLURM_CONF"
      return
    fi
    sleep 0.2
  done
  say "the nodes did not become idle within 60 s; sinfo says:"
  sinfo -N >&2 || true
  tail -n 20 "$DIR"/log/*.log >&2 || true
  exit 1
}

up() {
  need_root
  [ "${1:-}" = --accounting ] && ACCOUNTING=1
  install_packages
  write_config
  network_up
  munge_up
  database_up
  slurm_up
  wait_idle
}

down() {
  need_root
  if running "$DIR/run/slurmctld.pid"; then scontrol shutdown >/dev/null 2>&1 || true; fi
  for file in "$DIR"/run/slurmd-*.pid "$DIR/run/slurmctld.pid" "$DIR/run/slurmdbd.pid" "$DIR/mysql/mariadb.pid" \
    "$DIR/munge/munged.pid"; do
    [ -e "$file" ] && stop_pidfile "$file"
  done
  network_down
  rm -rf "$DIR"
  say "down"
}

# One job on each node, pinned with --nodelist: each must run, see this filesystem and write its output here.
smoke() {
  local out
  out="$(mktemp -d "${TMPDIR:-/tmp}/sluice-slurm-smoke-XXXXXX")"
  for i in $(seq "$NODES"); do
    sbatch --parsable --wait --quiet --nodelist="$(node_name "$i")" --chdir="$out" --output="$out/%x.out" \
      --job-name="$(node_name "$i")" \
      --export=NONE --wrap='echo "$SLURMD_NODENAME sees $PWD"' >/dev/null ||
      die "the smoke job on $(node_name "$i") failed; see $DIR/log"
    grep -qx "$(node_name "$i") sees $out" "$out/$(node_name "$i").out" ||
      die "the smoke job on $(node_name "$i") did not write what it should into $out"
  done
  rm -rf "$out"
  say "smoke: a job ran on each of the $NODES nodes and wrote to the shared filesystem"
}

case "${1:-}" in
  up) up "${2:-}" ;;
  down) down ;;
  status) sinfo -N -o '%N %t %c %m' ;;
  smoke) smoke ;;
  *) die "usage: $0 up [--accounting] | down | status | smoke" ;;
esac

#!/usr/bin/env bash
# npm run test:slurm: `nvlab slurm --submit` through a real single-node Slurm cluster
# (munged, slurmctld, slurmd on localhost). Not part of `npm test`.
#
# On Debian as root: installs slurm-wlm and munge with apt when missing; writes a munge key
# and a minimal cgroup-free slurm.conf (2 CPUs, no accounting) into a temp dir; starts the
# three daemons with their own pid/state/spool/log files there, and stops them on exit.
# Then, on experiments/fixtures/slurm.json (runs and crash jobs) with 4 shards:
#   1. submit the array and the merge; results.csv, summary.csv and crash.csv must be
#      byte-identical to one local unsharded run;
#   2. submit again into a fresh folder, scancel one array task mid-run (after it stored
#      some results), check the merge was cancelled (--kill-on-invalid-dep), resubmit that
#      shard (--array=2; its script runs with --resume) and the merge, check the outputs
#      are still identical and that the resumed shard kept its earlier results.
# Not root, not Debian, apt failing or any check failing: a message and a non-zero exit.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SPEC="$ROOT/experiments/fixtures/slurm.json"
NVLAB=(node "$ROOT/bin/nvlab.mjs")
SHARDS=4
KILLED=2
PORT=${NVLAB_SLURM_PORT:-6817}
WAIT_S=${NVLAB_SLURM_WAIT_S:-600}
START=$SECONDS

say() { echo "test:slurm: $*"; }
fail() {
  echo "test:slurm: FAIL: $*" >&2
  exit 1
}

# --- the machine -------------------------------------------------------------------
[ "$(id -u)" = 0 ] || fail "needs root (it installs slurm-wlm and munge with apt and starts munged, slurmctld and slurmd); run it as root on a Debian machine"
[ -f /etc/debian_version ] && command -v apt-get >/dev/null || fail "needs Debian (apt-get) to install slurm-wlm and munge"
missing=()
for cmd in munged munge slurmctld slurmd sbatch squeue scontrol scancel; do command -v "$cmd" >/dev/null || missing+=("$cmd"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing slurm-wlm and munge with apt (missing: ${missing[*]})"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge; } >/tmp/nvlab-test-slurm-apt.log 2>&1 ||
    fail "apt-get could not install slurm-wlm and munge (log: /tmp/nvlab-test-slurm-apt.log): $(tail -n 1 /tmp/nvlab-test-slurm-apt.log)"
  for cmd in "${missing[@]}"; do command -v "$cmd" >/dev/null || fail "apt-get installed slurm-wlm and munge, but $cmd is still not on PATH"; done
fi
for p in "$PORT" $((PORT + 1)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then fail "port $p is in use (another Slurm?); set NVLAB_SLURM_PORT to a free pair"; fi
done

# --- the cluster -------------------------------------------------------------------
D=$(mktemp -d /tmp/nvlab-test-slurm.XXXXXX)
chmod 711 "$D" # munged wants every directory above its socket searchable by all
mkdir -p "$D/munge" "$D/state" "$D/spool" "$D/log" "$D/run"
chmod 711 "$D/munge"
PIDS=()
OK=0

cleanup() {
  local rc=$?
  set +e
  if [ -n "${SLURM_CONF:-}" ] && [ ${#PIDS[@]} -gt 1 ]; then
    scancel --quiet --user=root 2>/dev/null
    for _ in $(seq 50); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
  fi
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[i]}" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  if [ "$OK" = 1 ]; then
    rm -rf "$D"
  else
    echo "test:slurm: kept $D for inspection (logs in $D/log, job logs in $D/run*/final-slurm/logs)" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'echo "test:slurm: FAIL: line $LINENO: \"$BASH_COMMAND\" exited $?" >&2' ERR

waitfor() { # waitfor <what> <seconds> <command...>: poll until the command succeeds
  local what=$1 limit=$2
  shift 2
  local until=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $until ] || fail "$what: not within ${limit} s"
    sleep 0.2
  done
}

HOST=$(hostname -s)
CPUS=$(nproc)
[ "$CPUS" -gt 2 ] && CPUS=2
cat >"$D/slurm.conf" <<EOF
# nvlab test:slurm: one node on localhost, no cgroups, no accounting.
ClusterName=nvlabtest
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.sock
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=3600
KillWait=5
NodeName=nvlab0 NodeHostname=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=debug Nodes=nvlab0 Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$D/slurm.conf"

dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$D/munge/munge.key"
munged -F --socket="$D/munge/munge.sock" --key-file="$D/munge/munge.key" --pid-file="$D/munge/munged.pid" \
  --seed-file="$D/munge/munged.seed" --log-file="$D/log/munged.log" >"$D/log/munged.out" 2>&1 &
PIDS+=($!)
waitfor "munged (log $D/log/munged.log)" 30 munge -S "$D/munge/munge.sock" -n
slurmctld -D -i -f "$SLURM_CONF" >"$D/log/slurmctld.out" 2>&1 &
PIDS+=($!)
waitfor "slurmctld (log $D/log/slurmctld.log)" 60 bash -c 'scontrol ping | grep -q "is UP"'
slurmd -D -N nvlab0 -f "$SLURM_CONF" >"$D/log/slurmd.out" 2>&1 &
PIDS+=($!)
waitfor "slurmd: node nvlab0 idle (log $D/log/slurmd.log)" 60 bash -c '[ "$(sinfo -h -n nvlab0 -o %T)" = idle ]'
say "cluster up in $((SECONDS - START)) s: munged, slurmctld, slurmd (1 node, $CPUS CPUs) in $D"

# --- helpers -----------------------------------------------------------------------
states() { scontrol -o show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 | sort | uniq -c | tr -s ' ' | tr '\n' ' '; }
ended() { [ -z "$(squeue -h -j "$1" 2>/dev/null)" ]; }
waitjob() { # waitjob <what> <job id>: until no task of it is pending or running
  waitfor "$1 (job $2: $(states "$2"))" "$WAIT_S" ended "$2"
}
all_completed() { # every task of the job COMPLETED
  local s
  s=$(scontrol -o show job "$1" | grep -o 'JobState=[A-Z_]*' | sort -u)
  [ "$s" = "JobState=COMPLETED" ]
}
same_outputs() { # same_outputs <merged dir> <what>
  for f in results.csv summary.csv crash.csv; do
    [ -f "$1/$f" ] || fail "$2: $1/$f missing"
    cmp -s "$1/$f" "$D/ref/$f" || fail "$2: $1/$f differs from the unsharded run's ($(cmp "$1/$f" "$D/ref/$f" 2>&1 | head -n 1))"
  done
  say "$2: results.csv, summary.csv, crash.csv byte-identical to the unsharded run ($(wc -l <"$1/crash.csv") crash.csv lines)"
}
submit() { # submit <out dir> -> sets ARRAY, MERGE
  local text
  text=$("${NVLAB[@]}" slurm "$SPEC" --shards "$SHARDS" --cpus-per-task 1 --time 00:10:00 --out "$1" --submit) || fail "nvlab slurm --submit failed"
  echo "$text" | sed 's/^/  | /'
  ARRAY=$(echo "$text" | sed -n 's/^nvlab: submitted array job \([0-9]*\) .* merge job \([0-9]*\) .*/\1/p')
  MERGE=$(echo "$text" | sed -n 's/^nvlab: submitted array job \([0-9]*\) .* merge job \([0-9]*\) .*/\2/p')
  [ -n "$ARRAY" ] && [ -n "$MERGE" ] || fail "nvlab slurm --submit printed no job ids"
}
count() { find "$1" -maxdepth 1 -name '*.json' 2>/dev/null | wc -l || true; } # 0 for a folder not made yet

# --- the reference: one local unsharded run -----------------------------------------
t=$SECONDS
"${NVLAB[@]}" run "$SPEC" --out "$D/ref" --workers 2 --quiet >/dev/null || fail "the local unsharded run failed"
say "local unsharded run: $((SECONDS - t)) s"

# --- 1. array + merge ---------------------------------------------------------------
t=$SECONDS
submit "$D/run1/final"
waitjob "array" "$ARRAY"
all_completed "$ARRAY" || fail "array $ARRAY: not every task completed: $(states "$ARRAY")(logs $D/run1/final-slurm/logs)"
waitjob "merge" "$MERGE"
all_completed "$MERGE" || fail "merge $MERGE: $(states "$MERGE")(log $D/run1/final-slurm/logs/merge-$MERGE.log)"
same_outputs "$D/run1/final" "array + merge ($((SECONDS - t)) s)"

# --- 2. one shard cancelled mid-run, resubmitted ------------------------------------
t=$SECONDS
W="$D/run2/final-slurm"
submit "$D/run2/final"
SHARD="$W/shards/$KILLED"
stored() { [ "$(count "$SHARD/runs")" -ge 1 ] && grep -q '"status": "running"' "$SHARD/manifest.json"; }
waitfor "shard $KILLED storing its first results" "$WAIT_S" stored
scancel "${ARRAY}_$KILLED"
kept_runs=$(count "$SHARD/runs")
kept_jobs=$(count "$SHARD/crash-jobs")
say "scancel ${ARRAY}_$KILLED: the shard had stored $kept_runs runs and $kept_jobs crash jobs"
waitjob "array after scancel" "$ARRAY"
task_state=$(scontrol -o show job "${ARRAY}_$KILLED" | grep -o 'JobState=[A-Z_]*')
[ "$task_state" = "JobState=CANCELLED" ] || fail "task ${ARRAY}_$KILLED: expected CANCELLED, found $task_state"
# scancel sends SIGTERM: nvlab keeps what it finished and records "interrupted" (a SIGKILL leaves "running").
grep -Eq '"status": "(interrupted|running)"' "$SHARD/manifest.json" || fail "shard $KILLED finished before the scancel landed; make experiments/fixtures/slurm.json's shards longer"
grep -q '"status": "interrupted"' "$SHARD/manifest.json" && say "shard $KILLED recorded the SIGTERM: manifest status interrupted"
waitfor "merge $MERGE cancelled (--kill-on-invalid-dep)" 60 bash -c "scontrol -o show job $MERGE | grep -q JobState=CANCELLED"
[ ! -e "$D/run2/final" ] || fail "the merge ran although shard $KILLED was cancelled"
say "merge $MERGE cancelled by the failed dependency; nothing merged"
RESUB=$(sbatch --parsable --array="$KILLED" "$W/array.sh") || fail "resubmitting shard $KILLED failed"
MERGE2=$(sbatch --parsable --dependency="afterok:${RESUB%%;*}" "$W/merge.sh") || fail "resubmitting the merge failed"
say "resubmitted shard $KILLED as job ${RESUB%%;*} and the merge as job ${MERGE2%%;*}"
waitjob "resubmitted shard" "${RESUB%%;*}"
all_completed "${RESUB%%;*}" || fail "resubmitted shard: $(states "${RESUB%%;*}")(logs $W/logs)"
waitjob "second merge" "${MERGE2%%;*}"
all_completed "${MERGE2%%;*}" || fail "second merge: $(states "${MERGE2%%;*}")(logs $W/logs)"
skipped=$(node -e 'const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(m.counts.skippedRuns)' "$SHARD/manifest.json")
[ "$skipped" -ge 1 ] || fail "the resubmitted shard kept none of its $kept_runs stored runs (skippedRuns=$skipped): --resume did not resume"
say "the resubmitted shard resumed: $skipped runs kept from before the scancel"
same_outputs "$D/run2/final" "cancelled shard resubmitted + merge ($((SECONDS - t)) s)"

OK=1
say "PASS in $((SECONDS - START)) s"

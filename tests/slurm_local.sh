#!/usr/bin/env bash
# slurm_local.sh — imprint under a real single-node Slurm (munge, slurmctld, slurmd from
# Debian's packages, no systemd; a private instance on its own ports, socket and state directory,
# which leaves any other Slurm or munge on the machine alone):
#   1. `sbatch slurm/imprint.sh` runs a small curriculum with 2 tasks (srun --mpi=pmix) to the end;
#   2. a second job is sent USR1 mid-run (scancel --batch --signal=USR1, as Slurm's
#      --signal=B:USR1@lead would): the script forwards it, the ranks checkpoint and exit 3, the
#      script requeues the job, the requeued job resumes from the manifest and finishes;
#   3. its final stage (adapter, optimizer, state, eval) is byte-identical to the first job's.
# Needs root (the daemons run as root, as in CI) and scripts/install-deps.sh's Slurm packages;
# it fails, not skips, without them. Every wait polls against a deadline; on failure it prints
# the daemons' logs and the jobs' output. The daemons run in the foreground as this script's
# children and are stopped by PID on exit, with any job step still running; the temporary
# directory (configuration, state, logs, the jobs' run directories) is removed.
set -euo pipefail
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$SRC"
BIN=$(readlink -f "${IMPRINT_BIN:-build/imprint}")
export IMPRINT_BIN=$BIN # the jobs run in the temporary directory, with this binary
BUDGET=${IMPRINT_SLURM_BUDGET:-270} # seconds for the whole test (ctest's TIMEOUT is 300)
[ -x "$BIN" ] || { echo "slurm_local: no imprint binary at $BIN (IMPRINT_BIN)"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "slurm_local: needs root (the Slurm daemons run as root)"; exit 1; }
for cmd in munged munge unmunge slurmctld slurmd sbatch squeue sinfo scontrol scancel; do
    command -v "$cmd" >/dev/null || { echo "slurm_local: $cmd missing; run scripts/install-deps.sh"; exit 1; }
done
# this test's Slurm only: nothing from an enclosing job or another cluster's environment
while read -r v; do unset "$v"; done < <(compgen -e | grep -E '^(SLURM|SBATCH|SALLOC|SRUN)_' || true)

B=$(mktemp -d /tmp/imprint-slurm-XXXXXX)
export SLURM_CONF=$B/slurm.conf
NODE=imprintnode
pids=() # the daemons, as started
cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    set +e
    if [ "$rc" != 0 ]; then
        echo "slurm_local: failed (exit $rc); logs follow"
        dump_logs
    fi
    [ -f "$B/watchdog.pid" ] && kill "$(cat "$B/watchdog.pid")" 2>/dev/null
    # jobs first (their steps are slurmstepd processes outside this process tree), then the daemons
    if [ ${#pids[@]} -ge 2 ] && kill -0 "${pids[1]}" 2>/dev/null; then
        scancel --full --partition=test 2>/dev/null
        poll_quiet 20 no_steps_left
    fi
    for p in $(instance_pids); do kill -KILL "$p" 2>/dev/null; done # steps that outlived scancel
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null; done
    poll_quiet 15 daemons_gone
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$B"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# A watchdog outside this process tree: ctest's timeout SIGKILLs the tree (no trap runs), which
# leaves the job steps (slurmstepd, reparented to init) and this directory behind. Once this
# script is gone it stops every process of this instance (all have its SLURM_CONF in their
# environment; the watchdog has not) and removes the directory; cleanup stops it first.
# shellcheck disable=SC2016 # (the watchdog's own variables)
(env -u SLURM_CONF setsid bash -c '
    echo $$ >"$1/watchdog.pid"
    while kill -0 "$2" 2>/dev/null; do sleep 1; done
    for sig in TERM TERM KILL; do
        left=$(grep -lzxF "SLURM_CONF=$1/slurm.conf" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3)
        [ -n "$left" ] || break
        kill -$sig $left 2>/dev/null
        sleep 2
    done
    rm -rf "$1"' watchdog "$B" $$ </dev/null >/dev/null 2>&1 &)
passed=0 failed=0
check() { if eval "$1"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $2"; fi; }
die() { echo "FAIL $*"; exit 1; }
T0=${EPOCHREALTIME/./}
say() { # a step, with the seconds since the start
    local ms=$(((${EPOCHREALTIME/./} - T0) / 1000))
    echo "slurm_local: [$((ms / 1000)).$((ms % 1000 / 100))s] $*"
}
dump_logs() {
    local f
    for f in "$B"/*.log "$B"/*.stderr "$B"/*.out; do
        [ -s "$f" ] || continue
        echo "---- ${f#"$B"/} (last 80 lines)"
        tail -n 80 "$f"
    done
    echo "---- squeue / sinfo"
    squeue -t all -o '%i %j %T %r %M' 2>&1 | head -20
    sinfo -N 2>&1 | head -5
}
daemons_alive() { # all daemons started so far are running
    local p
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || return 1; done
}
daemons_gone() {
    local p
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && return 1; done
    return 0
}
deadline=$((SECONDS + BUDGET))
poll() { # seconds, command...: the command every 0.2 s until it succeeds. Fails at the deadline
    # (or the test's overall one, whichever is first), or as soon as a daemon has died.
    local end=$((SECONDS + $1))
    shift
    [ $end -le $deadline ] || end=$deadline
    until "$@"; do
        daemons_alive || { echo "slurm_local: a daemon exited (waiting for: $*)"; return 1; }
        [ $SECONDS -lt $end ] || { echo "slurm_local: timed out waiting for: $*"; return 1; }
        sleep 0.2
    done
}
poll_quiet() { # seconds, command...: poll without the daemon check or messages (cleanup)
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.2
    done
}
instance_pids() { # processes of this Slurm instance but its daemons: its job steps (slurmstepd,
    # whose environment holds only SLURM_CONF, this instance's) and the jobs' processes (the batch
    # scripts, srun, the ranks: marked by submit); nothing else on the machine matches either
    local f p
    while read -r f; do
        p=${f#/proc/}
        p=${p%/environ}
        if grep -qzxF "IMPRINT_SLURM_INSTANCE=$B" "$f" 2>/dev/null ||
            [ "$(cat "/proc/$p/comm" 2>/dev/null)" = slurmstepd ]; then
            echo "$p"
        fi
    done < <(grep -lzxF -e "IMPRINT_SLURM_INSTANCE=$B" -e "SLURM_CONF=$SLURM_CONF" \
        /proc/[0-9]*/environ 2>/dev/null || true)
}
step_files() { # the spool directory's files for job $1's steps (sockets, PMIx directories)
    compgen -G "$B/spool/*[._]$1.*" || true
}
no_steps_left() { [ -z "$(instance_pids)" ]; }

# ---- a private Slurm ---------------------------------------------------------------------------
port_free() { # nothing on this machine uses TCP port $1 (listening or connected, IPv4 or IPv6)
    ! grep -qi ":$(printf '%04X' "$1") " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
node_idle() { [ "$(sinfo -h -n "$NODE" -o %T 2>/dev/null)" = idle ]; }
munge_works() { munge -n -S "$B/munge.sock" 2>/dev/null | unmunge -S "$B/munge.sock" >/dev/null 2>&1; }

mkdir -p "$B/ctld" "$B/spool" "$B/tmp" "$B/runs"
head -c 1024 /dev/urandom >"$B/munge.key"
chmod 600 "$B/munge.key"
munged -F --force -S "$B/munge.sock" --key-file="$B/munge.key" --pid-file="$B/munged.pid" \
    --seed-file="$B/munge.seed" --log-file="$B/munged.log" </dev/null >"$B/munged.stderr" 2>&1 &
pids+=($!)
poll 30 munge_works || die "munged does not answer on $B/munge.sock"

started=0
for attempt in 1 2 3 4 5; do
    # ports below Linux's ephemeral range (32768-60999), so no outgoing connection holds them
    port=$((10000 + RANDOM % 22000))
    if ! port_free "$port" || ! port_free $((port + 1)); then continue; fi
    cat >"$B/slurm.conf" <<EOF
ClusterName=imprinttest
SlurmctldHost=$(hostname)(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$B/munge.sock
CredType=cred/munge
StateSaveLocation=$B/ctld
SlurmdSpoolDir=$B/spool
TmpFS=$B/tmp
SlurmctldPidFile=$B/slurmctld.pid
SlurmdPidFile=$B/slurmd.pid
PlugStackConfig=$B/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=3600
JobRequeue=1
SlurmctldLogFile=$B/slurmctld.log
SlurmdLogFile=$B/slurmd.log
NodeName=$NODE NodeHostname=$(hostname) NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=test Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    : >"$B/plugstack.conf"
    slurmctld -D -i </dev/null >"$B/slurmctld.stderr" 2>&1 &
    pids+=($!)
    slurmd -D -N "$NODE" </dev/null >"$B/slurmd.stderr" 2>&1 &
    pids+=($!)
    if poll 60 node_idle; then
        started=1
        break
    fi
    # a port taken between the check and the bind: try others; anything else is a failure
    grep -qi 'address already in use' "$B"/slurm*.log "$B"/slurm*.stderr 2>/dev/null ||
        die "the private Slurm does not come up (port $port)"
    echo "slurm_local: port $port or $((port + 1)) taken; trying others"
    kill -TERM "${pids[2]}" "${pids[1]}" 2>/dev/null || true
    wait "${pids[2]}" "${pids[1]}" 2>/dev/null || true
    pids=("${pids[0]}")
    for f in slurmctld.log slurmd.log slurmctld.stderr slurmd.stderr; do
        mv -f "$B/$f" "$B/$f.$attempt" 2>/dev/null || true
    done
    rm -rf "$B/ctld" "$B/spool" && mkdir -p "$B/ctld" "$B/spool"
done
[ $started = 1 ] || die "no free ports for the private Slurm"
check true "the node comes up idle"
say "slurmctld on port $port, slurmd on $((port + 1)), node $NODE idle"

# ---- a small curriculum -------------------------------------------------------------------------
"$BIN" tokenizer-train --vocab 600 --out "$B/tok" tests/data/chains/mini.cfg >/dev/null
cat >"$B/run.cfg" <<CFG
model = { random = { layers = 2; heads = 2; width = 32; vocab = 600; context = 128; };
          tokenizer = "$B/tok"; };
lora = { rank = 4; alpha = 8.0; dropout = 0.1; };
optim = { lr = 1e-2; warmup = 2; };
batch = { global = 6; seq_len = 128; };
curriculum = {
    library = ["$SRC/tests/data/chains/mini.cfg"];
    variants = 5;
    stages = (
        { name = "anchor"; band = [0.0, 0.1]; steps = 400; },
        { name = "bridge"; bridge = true; pacing = "root"; steps = 200; },
        { name = "drift"; band = [0.1, 0.4]; steps = 400; replay = 0.3; }
    );
};
run = { log_every = 100; };
CFG
submit() { # job name: submits slurm/imprint.sh from the temporary directory (the runs go there)
    (cd "$B" && IMPRINT_SLURM_INSTANCE=$B sbatch --parsable --job-name="$1" --ntasks-per-node=2 \
        --output="$B/$1-%j.out" "$SRC/slurm/imprint.sh" "$B/run.cfg")
}
job_state() { # the job's state as squeue shows it ("" when not listed)
    squeue -h -t all -j "$1" -o %T 2>/dev/null || true
}
job_ended() { # the job has left the queue for good (any final state)
    case $(job_state "$1") in
        PENDING | RUNNING | REQUEUED | REQUEUE_FED | REQUEUE_HOLD | CONFIGURING | COMPLETING | \
            SUSPENDED | RESIZING | SIGNALING | STAGE_OUT) return 1 ;;
        *) return 0 ;;
    esac
}
job_ok() { # the job ended COMPLETED with exit code 0:0
    [ "$(job_state "$1")" = COMPLETED ] &&
        scontrol show job -o "$1" 2>/dev/null | grep -qw 'ExitCode=0:0'
}
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
progressed() { # run dir, lines of metrics.jsonl, job; the test fails at once if the job has ended
    [ "$(lines "$1/metrics.jsonl")" -ge "$2" ] && return 0
    job_ended "$3" && { echo "slurm_local: job $3 ended before step $2"; exit 1; }
    return 1
}
requeued() { # job, output file: the script said it requeues and the job is pending again
    grep -q "requeueing job $1" "$2" 2>/dev/null && [ "$(job_state "$1")" = PENDING ]
}
startable() { # job: a requeued job may start again once Slurm is done with its previous run:
    # the node idle, no slurmstepd left and the steps' files gone from the spool directory. The
    # last step's slurmstepd takes a few seconds after the job is pending again to finalise PMIx
    # and remove its socket (stepd.slurm.pmix.<job>.0); a job started before that fails in srun
    # with "task launch failed" (slurmd.log: Cannot bind() UNIX socket ...: Address already in use).
    node_idle && [ -z "$(instance_pids)" ] && [ -z "$(step_files "$1")" ]
}

# 1. an uninterrupted job with 2 tasks
ref=$(submit ref)
say "job $ref (ref) submitted"
poll 150 job_ended "$ref" || die "job $ref does not end"
say "job $ref ended: $(job_state "$ref")"
check "job_ok $ref" "job $ref completes with exit code 0 ($(job_state "$ref"))"
check "grep -q '\"stages/02-drift\"' '$B/runs/ref-$ref/manifest.json'" "job $ref commits its last stage"
check "grep -q 'identical on 2 ranks' '$B/ref-$ref.out'" "2 ranks under srun"
check "[ -f '$B/runs/ref-$ref/stages/02-drift/adapter.safetensors' ]" "job $ref wrote its last stage"

# 2. a job signalled mid-run, requeued and resumed
sig=$(submit sig)
say "job $sig (sig) submitted"
poll 120 progressed "$B/runs/sig-$sig" 100 "$sig" || die "job $sig makes no progress"
scancel --batch --signal=USR1 "$sig"
say "job $sig sent USR1"
poll 60 requeued "$sig" "$B/sig-$sig.out" || die "job $sig is not requeued after USR1"
say "job $sig requeued (pending)"
check "grep -q 'stop requested: checkpoint after step' '$B/sig-$sig.out'" "USR1 stops the ranks with a checkpoint"
check "grep -q 'requeueing job $sig' '$B/sig-$sig.out'" "the script requeues on exit 3"
# Slurm holds a requeued job back (BeginTime a while ahead); release it as soon as it can start
poll 60 startable "$sig" || die "job $sig's previous run is not cleaned up"
if scontrol update JobId="$sig" StartTime=now; then
    say "job $sig released"
else
    say "job $sig not released: $(job_state "$sig") (Slurm started it itself)"
fi
poll 150 job_ended "$sig" || die "the requeued job $sig does not end"
say "job $sig ended: $(job_state "$sig")"
check "job_ok $sig" "the requeued job $sig completes with exit code 0 ($(job_state "$sig"))"
check "grep -q '\"stages/02-drift\"' '$B/runs/sig-$sig/manifest.json'" "job $sig commits its last stage"
check "grep -q 'resume: runs/sig-$sig/stages/' '$B/sig-$sig.out'" "the requeued job resumes from its manifest"
for f in adapter.safetensors optim.safetensors state.json eval.json; do
    check "cmp -s '$B/runs/ref-$ref/stages/02-drift/$f' '$B/runs/sig-$sig/stages/02-drift/$f'" \
        "signalled + requeued job: $f byte-identical to the uninterrupted job"
done
echo "slurm_local: $passed passed, $failed failed"
[ $failed = 0 ]

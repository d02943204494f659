#!/usr/bin/env bash
# slurm_local.sh — imprint under a real single-node Slurm (munge, slurmctld, slurmd from
# Debian's packages, no systemd; a private instance on its own ports and state directory):
#   1. `sbatch slurm/imprint.sh` runs a small curriculum with 2 tasks (srun --mpi=pmix) to the end;
#   2. a second job is sent USR1 mid-run (scancel --batch --signal=USR1, as Slurm's
#      --signal=B:USR1@lead would): the script forwards it, the ranks checkpoint and exit 3, the
#      script requeues the job, the requeued job resumes from the manifest and finishes;
#   3. its final stage (adapter, optimizer, state, eval) is byte-identical to the first job's.
# Needs root (the daemons run as root, as in CI containers).
#
set -euo pipefail
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
BIN=${IMPRINT_BIN:-build/imprint}
for cmd in munged slurmctld slurmd sbatch; do
    command -v "$cmd" >/dev/null || { echo "slurm_local: $cmd missing; run scripts/install-deps.sh"; exit 1; }
done
B=$(mktemp -d /tmp/imprint-slurm-XXXXXX)
runs=()
cleanup() {
    scancel --full "${ref:-0}" "${sig:-0}" 2>/dev/null || true
    for p in slurmd slurmctld munged; do
        [ -f "$B/$p.pid" ] && kill "$(cat "$B/$p.pid")" 2>/dev/null || true
    done
    sleep 2
    for r in "${runs[@]}"; do rm -rf "$r"; done
    rm -rf "$B"
}
trap cleanup EXIT
passed=0 failed=0
check() { if eval "$1"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $2"; fi; }

# ---- a private Slurm ---------------------------------------------------------------------------
host=$(hostname)
port=$((20000 + $$ % 20000))
mkdir -p "$B/ctld" "$B/spool"
head -c 1024 /dev/urandom >"$B/munge.key"
chmod 600 "$B/munge.key"
munged --force -S "$B/munge.sock" --key-file="$B/munge.key" --pid-file="$B/munged.pid" \
    --seed-file="$B/seed" --log-file="$B/munged.log"
cat >"$B/slurm.conf" <<EOF
ClusterName=imprinttest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$B/munge.sock
CredType=cred/munge
StateSaveLocation=$B/ctld
SlurmdSpoolDir=$B/spool
SlurmctldPidFile=$B/slurmctld.pid
SlurmdPidFile=$B/slurmd.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
KillWait=5
JobRequeue=1
SlurmctldLogFile=$B/slurmctld.log
SlurmdLogFile=$B/slurmd.log
NodeName=imprintnode NodeHostname=$host NodeAddr=127.0.0.1 CPUs=2 RealMemory=2000 State=UNKNOWN
PartitionName=test Nodes=imprintnode Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$B/slurm.conf
slurmctld -i
slurmd -N imprintnode
for i in $(seq 1 60); do
    sinfo -h -o %T 2>/dev/null | grep -q idle && break
    sleep 0.5
done
check "sinfo -h -o %T | grep -q idle" "the node comes up idle (see $B/slurmctld.log)"

# ---- a small curriculum -------------------------------------------------------------------------
"$BIN" tokenizer-train --vocab 600 --out "$B/tok" tests/data/chains/mini.cfg >/dev/null
cat >"$B/run.cfg" <<CFG
model = { random = { layers = 2; heads = 2; width = 32; vocab = 600; context = 128; };
          tokenizer = "$B/tok"; };
lora = { rank = 4; alpha = 8.0; dropout = 0.1; };
optim = { lr = 1e-2; warmup = 2; };
batch = { global = 6; seq_len = 128; };
curriculum = {
    library = ["tests/data/chains/mini.cfg"];
    variants = 5;
    stages = (
        { name = "anchor"; band = [0.0, 0.1]; steps = 400; },
        { name = "bridge"; bridge = true; pacing = "root"; steps = 200; },
        { name = "drift"; band = [0.1, 0.4]; steps = 400; replay = 0.3; }
    );
};
run = { log_every = 100; };
CFG
job_state() { # the job's state as squeue shows it ("" when not listed)
    squeue -h -t all -j "$1" -o %T 2>/dev/null || true
}
wait_done() { # run dir, seconds[, job]: until the run's last stage is in its manifest (the
    # commit). With a job id, a requeued job held back by Slurm's requeue delay (PENDING,
    # BeginTime) is released each time it is seen pending: no test should wait minutes.
    # The release waits until the job has been pending for 10 s: the previous run's job step
    # must be torn down first, or the new srun fails to launch its tasks.
    local pending=0
    for i in $(seq 1 "$2"); do
        grep -q '"stages/02-drift"' "$1/manifest.json" 2>/dev/null && return 0
        if [ -n "${3:-}" ] && [ "$(job_state "$3")" = PENDING ]; then
            pending=$((pending + 1))
            [ $pending -ge 10 ] && { scontrol update JobId="$3" StartTime=now 2>/dev/null || true; }
        else
            pending=0
        fi
        sleep 1
    done
    return 1
}

# 1. an uninterrupted job with 2 tasks
ref=$(sbatch --parsable --job-name=ref --ntasks-per-node=2 --output="$B/ref-%j.out" slurm/imprint.sh "$B/run.cfg")
runs+=("runs/ref-$ref")
check "wait_done runs/ref-$ref 180" "job $ref finishes"
check "grep -q 'identical on 2 ranks' '$B/ref-$ref.out'" "2 ranks under srun"
check "[ -f runs/ref-$ref/stages/02-drift/adapter.safetensors ]" "job $ref wrote its last stage"

# 2. a job signalled mid-run, requeued and resumed
sig=$(sbatch --parsable --job-name=sig --ntasks-per-node=2 --output="$B/sig-%j.out" slurm/imprint.sh "$B/run.cfg")
runs+=("runs/sig-$sig")
for i in $(seq 1 600); do
    n=0
    [ -f "runs/sig-$sig/metrics.jsonl" ] && n=$(wc -l <"runs/sig-$sig/metrics.jsonl")
    [ "$n" -ge 100 ] && break
    sleep 0.1
done
scancel --batch --signal=USR1 "$sig"
for i in $(seq 1 120); do # requeued: pending (Slurm delays a requeued job's start)
    st=$(squeue -h -j "$sig" -o %T 2>/dev/null)
    [ "$st" = PENDING ] && grep -q "requeueing job $sig" "$B/sig-$sig.out" 2>/dev/null && break
    sleep 0.5
done
check "grep -q 'stop requested: checkpoint after step' '$B/sig-$sig.out'" "USR1 stops the ranks with a checkpoint"
check "grep -q 'requeueing job $sig' '$B/sig-$sig.out'" "the script requeues on exit 3"
check "wait_done runs/sig-$sig 180 $sig" "the requeued job $sig finishes"
sleep 2 # the batch script's output is flushed as the job ends
check "grep -q \"resume: runs/sig-$sig/stages/\" '$B/sig-$sig.out'" "the requeued job resumes from its manifest"
for f in adapter.safetensors optim.safetensors state.json eval.json; do
    check "cmp -s runs/ref-$ref/stages/02-drift/$f runs/sig-$sig/stages/02-drift/$f" \
        "signalled + requeued job: $f byte-identical to the uninterrupted job"
done
echo "slurm_local: $passed passed, $failed failed"
[ $failed = 0 ]

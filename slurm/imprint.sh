#!/usr/bin/env bash
# imprint.sh — run imprint as a Slurm job:   sbatch slurm/imprint.sh CONFIG [--set KEY=VALUE]...
#
# One MPI rank per task. The run directory comes from the job: runs/<job name>-<job id>, plus
# -<array index> in job arrays, where the seed is also base seed + array index, so
#   sbatch --array=0-9 slurm/imprint.sh configs/default.cfg
# sweeps ten seeds. Override the #SBATCH defaults on the sbatch command line as usual.
#
# Two minutes before the time limit Slurm sends USR1 to this script (--signal=B:USR1@120); it
# is passed on to every task, the ranks agree on a stop step, write a checkpoint and exit with 3,
# and the script requeues the job. A requeued job keeps its job id, finds the run directory's
# manifest (or token-file checkpoints) and resumes (--resume --fallback) from the newest checkpoint whose checksums verify
# (a corrupted newest one is skipped and listed under "discarded" in the manifest; set
# IMPRINT_RESUME_FALLBACK=0 to fail instead). scancel/preemption (TERM) is handled the same way.
# A rank that dies ends the job (srun --kill-on-bad-exit); one that hangs is ended by the
# collective watchdog after run.watchdog seconds (exit 4).
#
# GPU nodes: enable the --gpus-per-node line below (one GPU per task; each rank takes the GPU
# of its node-local rank, found with MPI_Comm_split_type).
#SBATCH --job-name=imprint
#SBATCH --signal=B:USR1@120
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=2
#SBATCH --cpus-per-task=1
##SBATCH --gpus-per-node=2
#SBATCH --time=01:00:00
#SBATCH --output=imprint-%x-%j.out
set -euo pipefail
config=${1:?usage: sbatch slurm/imprint.sh CONFIG [--set KEY=VALUE]...}
shift
cd "${SLURM_SUBMIT_DIR:-$(pwd)}"
bin=${IMPRINT_BIN:-build/imprint}
run_dir="runs/${SLURM_JOB_NAME:-imprint}-${SLURM_JOB_ID:-local}${SLURM_ARRAY_TASK_ID:+-$SLURM_ARRAY_TASK_ID}"
extra=(--set "run.dir=\"$run_dir\"")
if [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
    base_seed=$("$bin" config "$config" "$@" | sed -n 's/^seed = \([0-9]*\).*/\1/p')
    extra+=(--set "seed=$((base_seed + SLURM_ARRAY_TASK_ID))")
fi
# a committed checkpoint: a manifest (curriculum) or a checkpoints/step-N (not a .tmp one)
if [ -f "$run_dir/manifest.json" ] || compgen -G "$run_dir/checkpoints/step-*[0-9]" >/dev/null; then
    extra=(--resume "$run_dir" "${extra[@]:2}") # a requeued job: continue its own run
    [ "${IMPRINT_RESUME_FALLBACK:-1}" = 0 ] || extra+=(--fallback)
fi
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
# --mpi: pmix where Slurm was built with it (srun --mpi=list); set IMPRINT_SRUN_MPI otherwise
srun --mpi="${IMPRINT_SRUN_MPI:-pmix}" --kill-on-bad-exit=1 "$bin" train "$config" "$@" "${extra[@]}" &
pid=$!
trap 'kill -USR1 "$pid" 2>/dev/null' USR1 TERM
# wait returns early (status > 128) when a trapped signal arrives; wait again until srun is done
while :; do
    rc=0
    wait "$pid" || rc=$?
    if [ "$rc" -gt 128 ] && kill -0 "$pid" 2>/dev/null; then continue; fi
    break
done
if [ "$rc" = 3 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
    echo "imprint.sh: stopped with a checkpoint; requeueing job $SLURM_JOB_ID"
    scontrol requeue "$SLURM_JOB_ID"
fi
exit "$rc"

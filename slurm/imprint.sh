#!/usr/bin/env bash
# imprint.sh — run imprint as a Slurm job:   sbatch slurm/imprint.sh CONFIG [--set KEY=VALUE]...
#
# One MPI rank per task. The run directory comes from the job: runs/<job name>-<job id>, plus
# -<array index> in job arrays, where the seed is also base seed + array index, so
#   sbatch --array=0-9 slurm/imprint.sh configs/default.cfg
# sweeps ten seeds. Override the #SBATCH defaults on the sbatch command line as usual.
# (Signal-driven checkpoints, --requeue and automatic resume arrive with the cluster issue.)
#SBATCH --job-name=imprint
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=2
#SBATCH --cpus-per-task=1
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
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
# --mpi: pmix where Slurm was built with it (srun --mpi=list); set IMPRINT_SRUN_MPI otherwise
srun --mpi="${IMPRINT_SRUN_MPI:-pmix}" --kill-on-bad-exit=1 "$bin" train "$config" "$@" "${extra[@]}"

#!/usr/bin/env bash
# install-deps.sh — installs the Debian packages imprint needs to build, run and test.
# Idempotent: installs only what is missing, and runs apt-get update only then. Packages' maintainer
# scripts start no services (munge, slurmd, slurmctld): tests/slurm_local.sh runs its own private
# instances, and on a machine without systemd an init script started by apt would be left running
# (or fail the install). An existing /usr/sbin/policy-rc.d is left as it is.
set -euo pipefail

packages=(
    build-essential cmake pkg-config git  # toolchain
    libopenmpi-dev openmpi-bin            # MPI (comm/)
    libconfig-dev                         # config files
    libopenblas-openmp-dev                # BLAS on OpenMP threads (see CMakeLists.txt)
    libcjson-dev                          # safetensors headers, config.json, state.json
    libpcre2-dev                          # GPT-2 pre-tokenisation regex
    clang libclang-rt-14-dev clang-format # libFuzzer targets and the format check
    python3 python3-numpy python3-torch   # reference checks in tests/ (/usr/bin/python3)
    slurmctld slurmd slurm-client munge   # tests/slurm_local.sh: a private single-node Slurm
    slurm-wlm-basic-plugins libpmix-dev   # srun --mpi=pmix (mpi_pmix.so dlopens pmix2/lib/libpmix.so)
)
# node and npm (the GPT-2 reference tokenizer, the Brown corpus) may come from outside Debian
# (e.g. NodeSource's nodejs, which carries npm); Debian's packages only when the commands are missing.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
# No service starts during the install: policy-rc.d exit status 101 ("action forbidden") makes
# invoke-rc.d and deb-systemd-invoke skip the start/restart (and report success), with or without
# systemd. Ours is removed again however the install ends.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    trap '$SUDO rm -f "$policy"' EXIT
    printf '#!/bin/sh\n# install-deps.sh: no service starts while it installs packages\nexit 101\n' |
        $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"

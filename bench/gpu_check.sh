#!/usr/bin/env bash
# One short check on a GPU machine (one NVIDIA H200, no network), about 3-4 minutes, 7 at most:
#   1. the GPU, torch, and that ultralytics and the harness import (wheels from .whl/ into /tmp/site);
#   2. the shipped suites under pytest-xdist (-n 2) on the GPU: the device each worker's predictions
#      ran on, the CUDA_VISIBLE_DEVICES each worker had (harness/core/gpus.py), the run record's devices;
#   3. bench/harness_vs_predict.py on a generated seg suite (GPU_CHECK_IMAGES, default 1000);
#   4. `python -m harness.cli predict` on that suite (images/s, fresh cache), then pytest judging it
#      from that cache (it should predict 0 images).
# Run from the repository root, with the wheels in .whl/ (ignored by git):
#   bash bench/gpu_check.sh                       # on the GPU machine: prints and writes $OUT/gpu-check.txt
#   GPU_CHECK_LOCAL=1 GPU_CHECK_IMAGES=50 bash bench/gpu_check.sh   # a dry run here: .venv, no install
# The package is used from the working tree (not pip-installed), so pytest loads the plugin with -p.
if [ -z "$GPU_CHECK_LOCAL" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit 1
    PY=python3
else
    PY=$PWD/.venv/bin/python
    export PYTHONPATH=$PWD
fi
export YOLO_OFFLINE=1 PYTHONUNBUFFERED=1 TMPDIR=/tmp
OUT=${OUT:-$(mktemp -d /tmp/gpu-check-out.XXXX)} && mkdir -p "$OUT"
N=${GPU_CHECK_IMAGES:-1000}
CASES=${GPU_CHECK_CASES:-cases/}
WORK=/tmp/gpu-check && rm -rf $WORK && mkdir -p $WORK/probe $WORK/workers
exec > >(tee "$OUT/gpu-check.txt") 2>&1
TEE=$!
# -p no:vision_harness: where the package is pip-installed (here), its entry point would register the
# plugin a second time; on the GPU machine it blocks nothing.
PLUGIN="-p no:vision_harness -p harness.pytest_plugin.hooks -p no:randomly"
set -o pipefail
step() { echo; echo "=== $(date +%T) $* ==="; T0=$SECONDS; }
ended() { echo "--- step took $((SECONDS - T0)) s"; }
# limit SECONDS COMMAND...: the command under a timeout, then its exit status (124: timed out).
limit() { timeout "$@"; local rc=$?; [ $rc = 124 ] && echo "!!! TIMED OUT after $1 s: ${*:2}"; echo "(exit $rc)"; return $rc; }

step "1. GPU, torch, ultralytics, harness (OUT=$OUT, images=$N)"
limit 20 nvidia-smi -L; ls /dev/nvidia* 2>&1 | tr '\n' ' '; echo; echo "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-unset}"
[ -z "$GPU_CHECK_LOCAL" ] && timeout 90 $PY -m compileall -q -j 0 /tmp/site harness >/dev/null  # as a pip install would
limit 60 $PY -c "import torch; print(torch.__version__, torch.cuda.device_count(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no CUDA')"
limit 60 $PY -c "import ultralytics, harness; print('ultralytics', ultralytics.__version__, 'from', ultralytics.__file__)"
timeout 60 $PY -c "
from importlib.metadata import version
print(*(f'{p} {version(p)}' for p in ('pytest', 'pytest-xdist', 'hypothesis', 'numpy', 'pycocotools', 'hotcoco', 'shapely', 'ruamel.yaml')))"
ended

step "2. shipped suites, pytest -n 2 on the GPU (device left to Ultralytics: cuda:0 when CUDA is there)"
echo "harness's own assignment (harness.core.gpus.worker_gpu, device unset) for this machine's visible GPUs:"
timeout 30 $PY -c "
import os
from harness.core.gpus import visible_gpus, worker_gpu
visible = visible_gpus(os.environ.get('CUDA_VISIBLE_DEVICES'))
print('  visible GPUs (no torch):', visible)
for w in ('gw0', 'gw1', 'gw2', 'gw3'):
    print(f'  {w}: CUDA_VISIBLE_DEVICES ->', worker_gpu(w, None, visible) or 'unchanged (all on the one GPU: cuda:0)')"
# A probe plugin: each worker writes what it ended with (its CUDA_VISIBLE_DEVICES, torch's device, models).
cat > $WORK/probe/gpu_check_probe.py <<'EOF'
import os, sys
def pytest_sessionfinish(session):
    from harness.pytest_plugin.session import RUN_KEY
    wid = getattr(session.config, "workerinput", {}).get("workerid")
    run = session.config.stash.get(RUN_KEY, None)
    if wid is None or run is None:
        return
    models = [(m.name, m.device_used, m.images_predicted) for m in run.judge.models.used()] if run.judge_started else []
    torch = sys.modules.get("torch")
    cuda = torch.cuda.get_device_name() if torch is not None and torch.cuda.is_initialized() else "not initialised"
    line = f"{wid}: CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}, torch.cuda: {cuda}; models (name, device, images predicted): {models}"
    with open(os.path.join(os.environ["GPU_CHECK_WORKERS"], wid + ".txt"), "w") as out:
        out.write(line + "\n")
EOF
limit 150 env PYTHONPATH=$PYTHONPATH:$WORK/probe GPU_CHECK_WORKERS=$WORK/workers $PY -m pytest $CASES -n 2 --dist loadfile $PLUGIN \
    -p gpu_check_probe -q -o cache_dir=$WORK/xdist-cache --harness-overlays-dir $WORK/overlays --harness-json $OUT/xdist-run.json 2>&1 | tail -25
echo "each worker, at its end (from the probe plugin):"; cat $WORK/workers/*.txt 2>&1
timeout 30 $PY -c "
import json, sys
record = json.load(open(sys.argv[1]))
print('run record: devices the predictions reported:', sorted({m['device'] for m in record['models']}))
for m in record['models']:
    print(f\"  {m['name']}: device {m['device']}, {m['images_predicted']} predicted, {m['images_from_cache']} from the cache\")" $OUT/xdist-run.json
ended

step "3. bench/harness_vs_predict.py --generated $N --repeats 1"
limit 240 $PY bench/harness_vs_predict.py --generated $N --repeats 1 --pytest-args "$PLUGIN"
ended

step "4. python -m harness.cli predict on the $N-image suite (fresh cache), then pytest from that cache"
SUITE=$(timeout 120 $PY bench/generated_suite.py /tmp/vision-harness-scale --cases $N) && echo "suite: $SUITE"
START=$(date +%s.%N)
limit 120 $PY -m harness.cli predict "$SUITE" --cache-dir $WORK/cli-cache
END=$(date +%s.%N)
$PY -c "import sys; s = float(sys.argv[2]) - float(sys.argv[1]); print(f'whole command: {s:.2f} s, {int(sys.argv[3]) / s:.1f} images/s')" $START $END $N
START=$(date +%s.%N)
limit 90 $PY -m pytest "$SUITE" -q $PLUGIN -o harness_allow_outside_root=true -o cache_dir=$WORK/cli-cache \
    --harness-overlays-dir $WORK/overlays 2>&1 \
    | grep -E "images predicted|passed|failed|error|exit|TIMED" | grep -v "^part-"
echo "pytest judging from the cache: $($PY -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f} s')" $START $(date +%s.%N))"
ended

echo; echo "=== $(date +%T) done; output in $OUT ==="
exec >&- 2>&-; wait $TEE

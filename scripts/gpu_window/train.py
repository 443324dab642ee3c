"""One training run of the window: `train.py CONFIG OUT_DIR [MINUTES]` (MINUTES overrides
the config's max_minutes, for a short rehearsal on a CPU)."""

from __future__ import annotations

import logging
import sys

from tunesmith.training.trainer import RunConfig, train

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
raw = RunConfig.load(sys.argv[1]).to_dict()
if len(sys.argv) > 3:
    raw["max_minutes"] = float(sys.argv[3])
cfg = RunConfig.from_dict(raw)  # validated, the override too
last = train(cfg, sys.argv[2])
print("last step:", last, flush=True)

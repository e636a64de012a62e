"""Sweeps as learners run them: the same runs by a loop of ``fit`` (what one writes by hand),
by ``chainrule.sweep`` (stacks, one process) and by ``chainrule.sweep(jobs=2)``, in one run.
Not a test: it asserts nothing about time; it prints seconds (CPU and wall; CPU counts this
process only, so the jobs=2 run shows its wall time) and the ratios to the loop of fit.

    python benchmarks/sweep.py             # three workloads, 2 repeats taking turns
    python benchmarks/sweep.py --quick     # a tenth of the epochs, 1 repeat

Every sweep must give each run the loop's parameters bit for bit: the script exits with
status 1 when one does not.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
import time

import numpy as np

import chainrule as cr


def _workloads(scale: float):
    flower = cr.datasets.planar_flower()
    moons = cr.datasets.moons(300, 0.2, seed=3)
    planar = cr.presets.planar()[1]
    epochs = lambda n: max(1, int(n * scale))                            # noqa: E731
    return [
        ("course hidden sizes 1,2,3,4,5,20,50 (planar, 5000 epochs)", flower,
         cr.ModelConfig([2, 4, 1], "tanh", "sigmoid"), dataclasses.replace(planar, num_epochs=epochs(5000)),
         {"hidden_layers": [1, 2, 3, 4, 5, 20, 50]}),
        ("learning rates 0.1,0.5,1.2 × seeds 0-15 (planar 2-4-1, 1000 epochs)", flower,
         cr.ModelConfig([2, 4, 1], "tanh", "sigmoid"),
         cr.TrainConfig(num_epochs=epochs(1000), init="xavier"), {"learning_rate": [0.1, 0.5, 1.2], "seed": range(16)}),
        ("λ 0,0.1,0.7 × seeds 0-15 (moons 2-5-2-1 relu, Adam, batches of 64, 500 epochs)", moons,
         cr.ModelConfig([2, 5, 2, 1], "relu", "sigmoid"),
         cr.TrainConfig(optimizer="adam", learning_rate=0.007, mini_batch_size=64, num_epochs=epochs(500)),
         {"lambd": [0.0, 0.1, 0.7], "seed": range(16)}),
    ]


def _timed(function):
    cpu, wall = time.process_time(), time.perf_counter()
    result = function()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def _loop(data, config, train, settings):
    """What one writes by hand: fit for each setting, one after another."""
    runs = []
    for setting in cr.grid(**settings):
        hidden = setting.get("hidden_layers", config.layer_dims[1:-1])
        network = cr.ModelConfig([config.n_x, *np.atleast_1d(hidden), config.n_y], config.hidden_activation,
                                 config.output)
        options = {k: v for k, v in setting.items() if k != "hidden_layers"}
        runs.append(cr.fit(network, data.X, data.Y, dataclasses.replace(train, **options)).params)
    return runs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int)
    args = parser.parse_args(argv)
    scale, repeats = (0.1, 1) if args.quick else (1.0, 2)
    repeats = args.repeats or repeats
    ok = True
    print(f"seconds, CPU / wall, the best of {repeats} taking turns; × is the loop's wall time over the sweep's")
    print(f"{'workload':<80} {'runs':>5} {'stacks':>14} {'loop of fit':>14} {'sweep':>14} {'×':>5} "
          f"{'sweep jobs=2':>14} {'×':>5}")
    for name, data, config, train, settings in _workloads(scale):
        work = (data.X, data.Y, settings)
        options = {"config": config, "train": train}
        ways = {"loop": functools.partial(_loop, data, config, train, settings),
                "sweep": functools.partial(cr.sweep, *work, **options),
                "jobs2": functools.partial(cr.sweep, *work, **options, jobs=2)}
        best = {way: (np.inf, np.inf) for way in ways}
        outputs = {}
        for _ in range(repeats):
            for way, function in ways.items():
                outputs[way], cpu, wall = _timed(function)
                best[way] = (min(best[way][0], cpu), min(best[way][1], wall))
        for way in ("sweep", "jobs2"):
            for alone, run in zip(outputs["loop"], outputs[way].runs):
                if any(not np.array_equal(p.W, q.W) or not np.array_equal(p.b, q.b)
                       for p, q in zip(alone, run.result.params)):
                    print(f"  {way}: run {run.setting} differs from fit alone", file=sys.stderr)
                    ok = False
        stacks = ",".join(map(str, outputs["sweep"].stacks))
        cells = [f"{best[w][0]:6.2f} / {best[w][1]:5.2f}" for w in ways]
        print(f"{name:<80} {len(outputs['sweep'].runs):>5} {stacks[:14]:>14} {cells[0]:>14} {cells[1]:>14} "
              f"{best['loop'][1] / best['sweep'][1]:5.2f} {cells[2]:>14} {best['loop'][1] / best['jobs2'][1]:5.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

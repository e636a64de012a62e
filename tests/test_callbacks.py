"""Each policy of the loop on a made-up sequence of records, without training.

The records and states here are invented; the expected decisions are worked out by hand
from each callback's documented rule.
"""

import math

import numpy as np
import pytest

from chainrule.callbacks import Best, Checkpoint, DivergenceGuard, EarlyStopping, Progress, TrainingDiverged
from chainrule.history import EpochRecord, History
from chainrule.training import TrainState

NAN = math.nan


def record(epoch, cost, val_cost=NAN, learning_rate=0.1):
    return EpochRecord(epoch, cost, cost, 0.0, NAN, learning_rate, val_cost, NAN)


def state(epoch, marker):
    """A state whose parameters carry a marker: the epoch they were reached in (−1: the start)."""
    return TrainState([(np.full((1, 1), float(marker)), np.zeros((1, 1)))], None, epoch)


def run(callback, costs, val_costs=None, start=None):
    """Feed callback epochs 0, 1, … with these costs; return (the epoch it stopped after or None, states)."""
    start = state(0, -1) if start is None else start
    callback.start(start)
    states = [start]
    for e, cost in enumerate(costs, start=start.epoch):
        states.append(state(e + 1, e))
        if callback(record(e, cost, NAN if val_costs is None else val_costs[e - start.epoch]), states[-1]):
            return e, states
    return None, states


def marker(params):
    return float(params[0][0][0, 0])


# --- divergence -----------------------------------------------------------------------------------


def test_divergence_is_measured_against_the_first_epoch():
    """Factor 100: 1 → 50 → 99 → 150 never rises 100-fold from one epoch to the next, but 150 is
    more than 100 × the first epoch's 1."""
    guard = DivergenceGuard(100.0)
    with pytest.raises(TrainingDiverged, match=r"the cost rose from 1 to 150 in epoch 3 with learning rate 0.1") as e:
        run(guard, [1.0, 50.0, 99.0, 150.0])
    assert marker(e.value.params) == -1 and e.value.epoch == 3                # epoch 0's start: the lowest cost


def test_a_rise_from_a_low_previous_epoch_within_the_factor_of_the_first_is_no_divergence():
    """10 → 0.01 → 2: 200 × the previous epoch, but a fifth of the first: training goes on."""
    assert run(DivergenceGuard(100.0), [10.0, 0.01, 2.0])[0] is None


@pytest.mark.parametrize("bad", [NAN, math.inf])
def test_a_cost_that_is_not_finite_diverges_and_keeps_the_start_of_the_best_epoch(bad):
    """Costs 3, 1, 2, then NaN: the lowest is epoch 1's, measured on the parameters it started
    from, which epoch 0 reached (marker 0)."""
    with pytest.raises(TrainingDiverged, match=f"the cost became {bad} in epoch 3") as info:
        run(DivergenceGuard(None), [3.0, 1.0, 2.0, bad])
    assert marker(info.value.params) == 0
    assert "The parameters of epoch 1 (cost 1) are kept." in str(info.value)


def test_without_a_factor_only_nan_and_inf_stop():
    assert run(DivergenceGuard(None), [1.0, 1e6, 1e300])[0] is None


def test_parameters_that_are_not_finite_at_the_end_diverge():
    guard = DivergenceGuard()
    run(guard, [1.0, 0.5])
    bad = TrainState([(np.array([[np.inf]]), np.zeros((1, 1)))], None, 2)
    with pytest.raises(TrainingDiverged, match="the parameters became NaN or infinite in epoch 1"):
        guard.finish(bad)
    assert guard.finish(state(2, 1)).epoch == 2                                # finite: untouched


def test_the_factor_is_checked():
    with pytest.raises(ValueError, match="divergence_factor must be a number above 1; got 1"):
        DivergenceGuard(1)


# --- early stopping ------------------------------------------------------------------------------


def test_patience_counts_epochs_without_improvement():
    """Costs 5, 4, 4.5, 4.2, 4.1: the best is epoch 1's 4; with patience 3 the third epoch
    without a better one (epoch 4) stops."""
    stopping = EarlyStopping(3, monitor="cost")
    stopped, states = run(stopping, [5.0, 4.0, 4.5, 4.2, 4.1, 3.0])
    assert stopped == 4 and stopping.best_epoch == 1 and stopping.best.waited == 3


def test_min_delta_is_the_least_improvement_that_counts():
    """min_delta 0.1: 1.0 → 0.95 → 0.93 are no improvements (patience 2 stops after 0.93); in
    1.0 → 0.85 → 0.8 → 0.78 the 0.85 is one (by 0.15), the next two are not."""
    stopping = EarlyStopping(2, min_delta=0.1, monitor="cost")
    assert run(stopping, [1.0, 0.95, 0.93, 0.92])[0] == 2 and stopping.best_epoch == 0
    stopping = EarlyStopping(2, min_delta=0.1, monitor="cost")
    assert run(stopping, [1.0, 0.85, 0.8, 0.78])[0] == 3 and stopping.best_epoch == 1


def test_the_training_cost_is_kept_with_the_parameters_it_was_measured_on():
    """An epoch's training cost is J of the parameters it started from: the best epoch 1's
    parameters are those epoch 0 reached (marker 0); a validation cost is measured after the
    epoch, on those it reached (marker 1)."""
    on_cost = EarlyStopping(2, monitor="cost")
    _, states = run(on_cost, [3.0, 1.0, 2.0, 2.5])
    assert marker(on_cost.final_params(states[-1])) == 0
    on_val = EarlyStopping(2, monitor="val_cost")
    _, states = run(on_val, [9.0] * 4, val_costs=[3.0, 1.0, 2.0, 2.5])
    assert marker(on_val.final_params(states[-1])) == 1


def test_restore_best_false_returns_the_last_parameters():
    stopping = EarlyStopping(2, restore_best=False, monitor="cost")
    _, states = run(stopping, [3.0, 1.0, 2.0, 2.5])
    assert marker(stopping.final_params(states[-1])) == 3 and stopping.best_epoch == 1


def test_its_memory_goes_into_the_state_and_a_resumed_run_continues_the_count():
    """Costs 3, 1, 2 | 2.5, 2.6: split after epoch 2, the resumed run has waited one epoch
    already and stops after epoch 3 with patience 2, as the whole sequence does."""
    whole = EarlyStopping(2, monitor="cost")
    assert run(whole, [3.0, 1.0, 2.0, 2.5, 2.6])[0] == 3
    first = EarlyStopping(2, monitor="cost")
    _, states = run(first, [3.0, 1.0, 2.0])
    saved = first.finish(states[-1])
    assert saved.best == Best(1.0, 1, states[1].params, 1)
    resumed = EarlyStopping(2, monitor="cost")
    stopped, later = run(resumed, [2.5, 2.6], start=saved)
    assert stopped == 3 and resumed.best_epoch == 1 and marker(resumed.final_params(later[-1])) == 0


@pytest.mark.parametrize("kwargs, message", [
    (dict(patience=0), "patience must be a positive integer; got 0"),
    (dict(patience=2, min_delta=-1), "min_delta must be a non-negative number"),
    (dict(patience=2, restore_best="yes"), "restore_best must be True or False"),
    (dict(patience=2, monitor="accuracy"), "unknown monitor 'accuracy'"),
])
def test_early_stopping_checks_its_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EarlyStopping(**kwargs)


# --- progress ------------------------------------------------------------------------------------


def test_progress_lines_every_so_many_epochs_counted_from_epoch_zero():
    lines = []
    progress = Progress(10, every=4, mode="lines", write=lines.append)
    progress.start(state(3, -1))                                    # a resumed run: epochs 3 … 12
    for e in range(3, 13):
        progress(EpochRecord(e, 1.0 / (e + 1), NAN, NAN, NAN, 0.1, NAN if e != 8 else 0.5, NAN if e != 8 else 0.75),
                 state(e + 1, e))
    assert lines == ["Cost after epoch 4: 0.200000",
                     "Cost after epoch 8: 0.111111  (val cost 0.500000  val acc 75.00 %)",
                     "Cost after epoch 12: 0.076923"]


def test_quiet_progress_writes_nothing_and_live_without_rich_writes_lines(monkeypatch):
    lines = []
    quiet = Progress(5, mode="quiet", write=lines.append)
    quiet.start(state(0, -1))
    quiet(record(0, 1.0), state(1, 0))
    assert lines == []
    monkeypatch.setitem(__import__("sys").modules, "rich.progress", None)
    assert Progress(10, 5, "live").mode == "lines"


# --- checkpoints ---------------------------------------------------------------------------------


def test_checkpoints_every_so_many_epochs_with_the_whole_history():
    saved = []
    before = History.from_records([record(0, 9.0), record(1, 8.0)], seed=4)
    checkpoint = Checkpoint(lambda s, h: saved.append((s.epoch, list(h.epoch), list(h.cost), h.seed, h.stop_reason)),
                            every=3, before=before)
    _, states = run(checkpoint, [7.0, 6.0, 5.0, 4.0, 3.0], start=state(2, 1))
    checkpoint.finish(states[-1])
    # epochs 2 … 6 trained; saved after epochs 2 and 5 ((e + 1) % 3 == 0); the end is fit's to return
    assert saved == [(3, [0, 1, 2], [9.0, 8.0, 7.0], 4, "in progress"),
                     (6, [0, 1, 2, 3, 4, 5], [9.0, 8.0, 7.0, 6.0, 5.0, 4.0], 4, "in progress")]
    assert checkpoint.saved_epoch == 5

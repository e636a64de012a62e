"""Model files of format version 1 (chainrule 0.1.0), read into the current format.

Version 1 kept the run's options in a free-form ``settings`` document (with the optimizer's
name and hyperparameters beside it) and the standardizer under ``standardizer/``. When the
command line wrote the file, its settings hold everything a TrainConfig and a DataPrep need:
the options, the seed, the initialisation (always drawn with ``np.random.seed(seed)``, the
course's way) and the data's name, label, held-out share and standardisation. A file the
library wrote keeps its settings, optimizer and hyperparameters as ``notes``, and its state
(the optimizer's, at epoch len(history)) without a TrainConfig.
"""

from __future__ import annotations

_KEYS = ("config", "optimizer", "optimizer_hyper", "optimizer_state", "history", "standardizer",
         "settings", "feature_names", "classes")
_COMMAND_LINE = {"data": str, "test_fraction": (int, float), "standardize": bool, "seed": int, "options": dict}
_OPTIONS = ("optimizer", "learning_rate", "num_epochs", "mini_batch_size", "beta", "beta1", "beta2", "epsilon",
            "decay", "decay_rate", "time_interval", "lambd", "keep_prob", "convention", "patience", "min_delta",
            "restore_best", "divergence_factor")


def migrate(meta: dict, arrays: dict) -> tuple[dict, dict]:
    """(meta, arrays) of format 2 for a format 1 file's; a ValueError for a damaged one.

    ``arrays`` maps the archive's entry names to anything with a ``shape`` (the arrays, or
    their headers before the data are read); it comes back with the names of format 2.
    """
    missing = [key for key in _KEYS if key not in meta]
    unexpected = sorted(set(meta) - set(_KEYS))
    if missing or unexpected:
        raise ValueError("its (format 1) meta " + " and ".join(
            ([f"lacks the key(s) {', '.join(missing)}"] if missing else [])
            + ([f"has unexpected key(s) {', '.join(unexpected)}"] if unexpected else [])))
    for key, kind in (("optimizer_hyper", dict), ("settings", dict), ("standardizer", bool)):
        if not isinstance(meta[key], kind):
            raise ValueError(f"its (format 1) meta's {key!r} must be a {kind.__name__}")
    settings, history, opt_state = meta["settings"], meta["history"], meta["optimizer_state"]
    written_by_command_line = (all(isinstance(settings.get(k), kind) for k, kind in _COMMAND_LINE.items())
                               and set(_OPTIONS) <= set(settings["options"]))
    epochs = 0
    if history is not None and "history/epoch" in arrays and len(arrays["history/epoch"].shape) == 1:
        epochs = arrays["history/epoch"].shape[0]        # any other shape is refused with the history's arrays

    train = prep = None
    figures, notes = {}, {}
    standardizer = meta["standardizer"]
    if written_by_command_line:
        init = settings.get("init") if isinstance(settings.get("init"), dict) else {}
        train = {**{k: settings["options"][k] for k in _OPTIONS}, **meta["optimizer_hyper"],
                 "optimizer": meta["optimizer"], "seed": settings["seed"], "init": init.get("init", "random"),
                 "scale": init.get("scale", 0.01), "init_draws": "course"}
        prep = {"data": settings["data"], "data_options": {}, "label": settings.get("label"),
                "test_fraction": settings["test_fraction"], "standardizer": standardizer}
        given = settings.get("figures") if isinstance(settings.get("figures"), dict) else {}
        figures = {k: v for k, v in given.items()
                   if k != "epochs" and isinstance(v, (int, float)) and not isinstance(v, bool)}
    else:
        notes = {"settings": settings, "optimizer": meta["optimizer"], "optimizer_hyper": meta["optimizer_hyper"]}
        if standardizer:
            prep = {"data": None, "data_options": {}, "label": None, "test_fraction": 0.0, "standardizer": True}
    state = None
    if opt_state is not None or train is not None:
        state = {"epoch": epochs, "opt_state": opt_state, "params": "model", "best": None}

    renamed = {{"standardizer/mean": "prep/mean", "standardizer/std": "prep/std"}.get(key, key): value
               for key, value in arrays.items()}
    return ({"config": meta["config"], "train": train, "state": state, "history": history, "prep": prep,
             "feature_names": meta["feature_names"], "classes": meta["classes"], "figures": figures,
             "notes": notes}, renamed)

"""Model files under adversarial use: whatever a file holds, ``load`` runs no code, returns a
SavedModel or refuses the file with a ModelFileError of one sentence naming it, and spends
little to refuse it (a zip bomb is refused before it is decompressed). Also the data's
fingerprint kept in the DataPrep.

The fuzz tests at the end run 150 examples each; before a release, run them long (20,000
examples each, half an hour or so on two cores):

    CHAINRULE_FUZZ=release .venv/bin/python -m pytest tests/test_model_files.py -k fuzz
"""

import dataclasses
import hashlib
import json
import math
import os
import re
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import chainrule as cr
from chainrule.checkpoint import (
    MAX_META_CHARS,
    MAX_META_DEPTH,
    DataPrep,
    ModelFileError,
    SavedModel,
    data_fingerprint,
    load,
    save,
)
from chainrule.datasets import Standardizer
from chainrule.training import TrainConfig, TrainState, fit
from conftest import FUZZ, random_problem

FIXTURES = Path(__file__).parent / "fixtures"
MiB = 1 << 20



# --- helpers ----------------------------------------------------------------------------------


def entries(path):
    """Every entry of a model file, read without pickle."""
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def write_entries(path, arrays, compression=zipfile.ZIP_STORED):
    """An archive of ``arrays`` ({name: array}, or a list of pairs to repeat a name), written as np.savez
    does (object arrays too); a value of bytes is written as it is, under its name (no ``.npy``)."""
    pairs = arrays.items() if isinstance(arrays, dict) else arrays
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w", compression) as archive:
        warnings.simplefilter("ignore")                             # zipfile warns of a repeated name
        for key, value in pairs:
            if isinstance(value, bytes):
                archive.writestr(key, value)
                continue
            with archive.open(f"{key}.npy", "w", force_zip64=True) as handle:
                np.lib.format.write_array(handle, np.asanyarray(value), allow_pickle=True)
    return path


def meta_of(path):
    return json.loads(str(entries(path)["meta"]))


def with_meta(path, out, meta):
    """A copy of the model file at ``path`` with another meta: a dict, or the JSON text itself."""
    arrays = entries(path)
    arrays["meta"] = np.array(meta if isinstance(meta, str) else json.dumps(meta))
    return write_entries(out, arrays)


def refusal(path, pattern=None) -> str:
    """load's refusal of ``path``, checked to be one sentence naming the file (and matching ``pattern``)."""
    with pytest.raises(ModelFileError) as caught:
        load(path)
    message = str(caught.value)
    assert_one_sentence(message, path)
    assert caught.value.path == Path(path)
    if pattern is not None:
        assert re.search(pattern, message), message
    return message


def assert_one_sentence(message, path):
    prefix = f"cannot load {path}: "
    assert message.startswith(prefix), message
    problem = message[len(prefix):]
    assert problem and len(message.splitlines()) == 1 and len(message) < len(prefix) + 500, message
    assert not re.search(r"[.!?]\s+[A-Z]", problem), f"more than one sentence: {message}"


class Measured:
    """The bytes zipfile hands out (decompressed) and the peak of traced memory, while in the block."""

    def __init__(self, monkeypatch):
        self.bytes_read, self.peak = 0, 0
        read = zipfile.ZipExtFile.read

        def counting_read(handle, n=-1):
            data = read(handle, n)
            self.bytes_read += len(data)
            return data

        monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)

    def __enter__(self):
        tracemalloc.start()
        return self

    def __exit__(self, *exc):
        self.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


@pytest.fixture(scope="module")
def model():
    """A small trained model with every part: Adam's state, history, prep (standardizer, fingerprint), notes."""
    config = cr.ModelConfig([2, 3, 1], "tanh", "sigmoid")
    params, X, Y = random_problem(config, 40, np.random.default_rng(5))
    train = TrainConfig(optimizer="adam", learning_rate=0.05, num_epochs=3, mini_batch_size=16, seed=3)
    result = fit(config, X, Y, train, state=TrainState(params))
    prep = DataPrep("moons", {"noise": 0.2}, None, 0.25, Standardizer(X.mean(1, keepdims=True),
                                                                      X.std(1, keepdims=True)),
                    data_fingerprint(X, Y))
    return SavedModel(config, result.params, train, result.state, result.history, prep, ("x1", "x2"), ("0", "1"),
                      {"train_accuracy": 0.75, "final_cost": None}, {"note": "tiny", "tags": ["a", {"b": 1}]})


@pytest.fixture
def saved(model, tmp_path):
    return save(tmp_path / "model.npz", model)


# --- zip bombs and other resources ------------------------------------------------------------


def zeros_entry(archive, name, header, nbytes):
    """An entry ``name`` with a .npy ``header`` and ``nbytes`` of zeros, deflated as they are streamed."""
    with archive.open(name, "w", force_zip64=True) as handle:
        np.lib.format.write_array_header_1_0(handle, header)
        chunk = bytes(4 * MiB)
        for start in range(0, nbytes, len(chunk)):
            handle.write(chunk[:min(len(chunk), nbytes - start)])


def bomb(path, good, members, meta_change=None):
    """The model file ``good`` with ``members`` ({name: (header, nbytes of zeros)}) put in its place,
    deflated (zeros shrink about 1,000 times), and its meta changed by ``meta_change``."""
    arrays = entries(good)
    meta = json.loads(str(arrays["meta"]))
    if meta_change:
        meta_change(meta)
    arrays["meta"] = np.array(json.dumps(meta))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for key, value in arrays.items():
            if f"{key}.npy" not in members:
                with archive.open(f"{key}.npy", "w") as handle:
                    np.lib.format.write_array(handle, value)
        for name, (header, nbytes) in members.items():
            zeros_entry(archive, name, header, nbytes)
    return path


def f8(*shape):
    return {"descr": "<f8", "fortran_order": False, "shape": shape}


def bare_model_file(tmp_path, layer_dims):
    config = cr.ModelConfig(layer_dims, "tanh", "sigmoid")
    params = [cr.LayerParams(np.zeros((n, n_prev)), np.zeros((n, 1)))
              for n_prev, n in zip(layer_dims[:-1], layer_dims[1:])]
    return save(tmp_path / "bare.npz", SavedModel(config, params))


def test_a_zip_bomb_is_refused_before_it_is_decompressed(tmp_path, monkeypatch):
    """A file of 0.6 MB whose W1 inflates to 128 MiB (and whose meta asks for exactly that W1):
    refused from the sizes the archive declares, with a few kB decompressed."""
    good = bare_model_file(tmp_path, [2, 3, 1])
    n = 4096
    members = {"W1.npy": (f8(n, n), 8 * n * n), "b1.npy": (f8(n, 1), 8 * n), "W2.npy": (f8(1, n), 8 * n)}
    path = bomb(tmp_path / "bomb.npz", good, members, lambda m: m["config"].update(layer_dims=[n, n, 1]))
    assert os.path.getsize(path) < MiB
    with Measured(monkeypatch) as used:
        refusal(path, r"its entries would take 134,\d{3},\d{3} bytes uncompressed, more than the file's own "
                      r"[\d,]+ bytes plus 64 MiB")
    assert used.bytes_read < 64 * 1024 and used.peak < 4 * MiB


def test_a_size_forged_to_2_GiB_is_refused_unread(tmp_path, monkeypatch):
    """The archive's directory says W1 takes 2 GiB, as its header and the meta do; its data are a few bytes."""
    good = bare_model_file(tmp_path, [2, 3, 1])
    arrays = entries(good)
    meta = json.loads(str(arrays["meta"]))
    n = 16384
    meta["config"]["layer_dims"] = [n, n, 1]
    arrays |= {"meta": np.array(json.dumps(meta)), "b1": np.zeros((n, 1)), "W2": np.zeros((1, n))}
    path = tmp_path / "forged.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            with archive.open(f"{key}.npy", "w") as handle:
                if key == "W1":
                    np.lib.format.write_array_header_1_0(handle, f8(n, n))       # and no data
                else:
                    np.lib.format.write_array(handle, value)
        info = archive.getinfo("W1.npy")
        info.file_size += 8 * n * n                        # written at close, in the central directory
    with Measured(monkeypatch) as used:
        refusal(path, r"its entries would take 2,147,\d{3},\d{3} bytes uncompressed")
    assert used.bytes_read < 64 * 1024 and used.peak < 4 * MiB


THIRTY_TWO_MiB = 32 * MiB
INSIDE_THE_SLACK = {
    # entries inflating to 32 MiB (less than the 64 MiB of slack): the headers alone refuse them
    "W1 larger than its config": ({"W1.npy": (f8(2048, 2048), THIRTY_TWO_MiB)}, None,
                                  r"W1 must have shape \(n_1, n_0\) = \(3, 2\) for layer_dims \[2, 3, 1\]; "
                                  r"got \(2048, 2048\)"),
    "a history column longer than the others": (
        {"history/cost.npy": (f8(4 * MiB), THIRTY_TWO_MiB)}, None,
        r"the history arrays must all have one entry per epoch; their lengths are epoch 3, cost 4194304"),
    "a meta of 8 million characters": ({"meta.npy": ({"descr": "<U8388608", "fortran_order": False, "shape": ()},
                                                     THIRTY_TWO_MiB)}, None,
                                       r"its meta is 8,388,608 characters long, more than the 1,048,576 a model "
                                       r"file holds"),
    "a format name of 8 million characters": (
        {"format.npy": ({"descr": "<U8388608", "fortran_order": False, "shape": ()}, THIRTY_TWO_MiB)}, None,
        r"not a chainrule model file \(its 'format' entry is a text of 8,388,608 characters"),
    "W1 declaring more than it holds": ({"W1.npy": (f8(100_000, 100_000), 96)}, None,
                                        r"its entry 'W1' declares shape \(100000, 100000\) and dtype "
                                        r"float64, 80,000,000,000 bytes of data, but holds 96$"),
    "W1 declaring less than it holds": ({"W1.npy": (f8(3, 2), THIRTY_TWO_MiB)}, None,
                                        r"its entry 'W1' declares shape \(3, 2\) and dtype float64, 48 bytes of "
                                        r"data, but holds 33,554,432$"),
}


@pytest.mark.parametrize("case", INSIDE_THE_SLACK)
def test_what_the_headers_show_wrong_is_refused_before_the_data_are_read(case, model, tmp_path, monkeypatch):
    members, meta_change, problem = INSIDE_THE_SLACK[case]
    path = bomb(tmp_path / "bad.npz", save(tmp_path / "good.npz", model), members, meta_change)
    with Measured(monkeypatch) as used:
        refusal(path, problem)
    assert used.bytes_read < 256 * 1024 and used.peak < 4 * MiB


def test_a_history_column_of_any_length_still_loads_inside_the_bound(model, tmp_path):
    """The bound refuses bombs, not long runs: a history of 100,000 epochs, compressed, loads."""
    n = 100_000
    history = dataclasses.replace(model.history, **{name: np.zeros(n, dtype=getattr(model.history, name).dtype)
                                                    for name in cr.EpochRecord._fields})
    path = tmp_path / "long.npz"
    arrays = entries(save(tmp_path / "plain.npz", model._replace(history=history)))
    write_entries(path, arrays, zipfile.ZIP_DEFLATED)
    assert os.path.getsize(path) < 100_000 < 8 * 8 * n
    assert len(load(path).history) == n


# --- the archive ------------------------------------------------------------------------------


def _header_text(text):
    """A .npy (1.0) header holding ``text``, padded as np.save pads."""
    body = text.encode("latin1") + b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body


ARCHIVES = {
    "a repeated entry": (lambda a: list(a.items()) + [("W1", a["W1"])], r"its archive holds 2 entries named 'W1.npy'"),
    "an entry that is no array": (lambda a: a | {"readme.txt": b"hello"}, r"has unexpected array\(s\) readme.txt "),
    "W1 an object array": (lambda a: a | {"W1": np.array([[object()]], dtype=object)},
                           r"its entry 'W1' is a pickled object array; model files hold numbers and text only, "
                           r"and pickles are never loaded"),
    "W1 of a structured dtype holding objects": (
        lambda a: a | {"W1": np.zeros(3, dtype=[("x", "f8"), ("o", "O")])}, r"'W1' is a pickled object array"),
    "W1 big-endian": (lambda a: a | {"W1": a["W1"].astype(">f8")}, r"W1 must be float32 or float64; got >f8"),
    "W1 of complex numbers": (lambda a: a | {"W1": a["W1"].astype(complex)},
                              r"W1 must be float32 or float64; got complex128"),
    "W1 of text": (lambda a: a | {"W1": np.full((3, 2), "x")}, r"W1 must be float32 or float64; got <U1"),
    "W1 transposed": (lambda a: a | {"W1": a["W1"].T.copy()}, r"W1 must have shape \(n_1, n_0\) = \(3, 2\)"),
    "W1 with a third axis": (lambda a: a | {"W1": a["W1"][..., None]}, r"W1 must have shape .*; got \(3, 2, 1\)"),
    "a state array of the wrong shape": (lambda a: a | {"state/s/db2": np.zeros((2, 1))},
                                         r"state/s/db2 must have shape \(1, 1\); got \(2, 1\)"),
    "prep/std of the wrong dtype": (lambda a: a | {"prep/std": a["prep/std"].astype(np.float16)},
                                    r"prep/std must be float32 or float64; got float16"),
    "a history column of booleans": (lambda a: a | {"history/cost": a["history/cost"] > 0},
                                     r"history/cost must be a 1-D array of numbers, one per epoch"),
    "a format_version of text": (lambda a: a | {"format_version": np.array("2")},
                                 r"it has no integer 'format_version' entry"),
    "a meta of bytes": (lambda a: a | {"meta": np.array(b"{}")}, r"it has no 'meta' entry \(a JSON text\)"),
}


@pytest.mark.parametrize("case", ARCHIVES)
def test_an_archive_that_is_not_exactly_a_model_file_is_refused(case, saved, tmp_path):
    change, problem = ARCHIVES[case]
    refusal(write_entries(tmp_path / "bad.npz", change(entries(saved))), problem)


HEADERS = {
    "no magic": (b"NOTNUMPY" + bytes(120), r"its entry 'W1' has no readable \.npy header .*magic string"),
    "version 9.0": (b"\x93NUMPY\x09\x00" + bytes(120), r"has no readable \.npy header .*version is 9\.0"),
    "a header of 4 GB (version 2.0)": (b"\x93NUMPY\x02\x00" + (2 ** 32 - 1).to_bytes(4, "little") + bytes(100),
                                       r"'W1' has no readable \.npy header"),
    "a header that is no dict": (_header_text("[1, 2, 3]"), r"'W1' has no readable \.npy header"),
    "a negative shape": (_header_text("{'descr': '<f8', 'fortran_order': False, 'shape': (-3, 2), }"),
                         r"'W1' declares shape \(-3, 2\) and dtype float64"),
    # 9,000 minus signs make CPython's parser raise MemoryError: a crafted header, not a lack of memory
    "a header that exhausts the parser": (_header_text("{'descr': '<f8', 'fortran_order': False, 'shape': ("
                                                       + "-" * 9000 + "3, 2), }"),
                                          r"'W1' has no readable \.npy header \(\w+Error"),
}


@pytest.mark.parametrize("case", HEADERS)
def test_a_damaged_or_crafted_header_is_refused(case, saved, tmp_path):
    data, problem = HEADERS[case]
    arrays = entries(saved)
    path = tmp_path / "bad.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for key, value in arrays.items():
            with archive.open(f"{key}.npy", "w") as handle:
                if key == "W1":
                    handle.write(data)
                else:
                    np.lib.format.write_array(handle, value)
    refusal(path, problem)


def test_an_encrypted_entry_is_refused(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    end = data.rindex(b"PK\x05\x06")                                     # the end of the central directory
    record = int.from_bytes(data[end + 16:end + 20], "little")           # where it starts: its first entry
    name_length = int.from_bytes(data[record + 28:record + 30], "little")
    assert data[record + 46:record + 46 + name_length] == b"format.npy"
    data[record + 8] |= 1                                                # its flags: encrypted
    path = tmp_path / "encrypted.npz"
    path.write_bytes(bytes(data))
    refusal(path, r"its entry 'format' is encrypted")


@pytest.mark.parametrize("error", [MemoryError, KeyboardInterrupt])
def test_a_genuine_lack_of_memory_or_an_interrupt_is_not_called_a_bad_file(error, saved, monkeypatch):
    def fail(*args, **kwargs):
        raise error()

    monkeypatch.setattr(np.lib.format, "read_array", fail)
    with pytest.raises(error):
        load(saved)


def test_fortran_ordered_and_compressed_arrays_load_with_their_values(model, saved, tmp_path):
    """What np.savez_compressed writes, and an array stored in Fortran order, are model files too."""
    arrays = entries(saved)
    arrays["W1"] = np.asfortranarray(arrays["W1"])
    loaded = load(write_entries(tmp_path / "f.npz", arrays, zipfile.ZIP_DEFLATED))
    np.testing.assert_array_equal(loaded.params[0].W, model.params[0].W)
    assert loaded.params[0].W.flags.f_contiguous and loaded.params[0].W.flags.writeable


# --- crafted metadata -------------------------------------------------------------------------


def _set(*keys, value):
    """A change of the meta's JSON text: the value at ``keys`` (a path of dict keys) set to ``value``."""
    def change(text):
        meta = node = json.loads(text)
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
        return json.dumps(meta, ensure_ascii=False)
    return change


def _text(replace):
    """A change of the meta's JSON text: ``replace(text)``."""
    return replace


def _deep_notes(text):
    return text.replace('"notes": {', '"notes": {"deep": ' + "[" * 100_000 + "]" * 100_000 + ', ', 1)


METAS = {
    # nesting and size
    "notes 100,000 lists deep": (_text(_deep_notes), r"its meta nests 100,002 levels of arrays and objects, "
                                                     r"more than the 64 a model file holds"),
    "notes of 2 million characters": (_set("notes", "long", value="x" * 2_000_000),
                                      r"its meta is 2,00\d,\d{3} characters long, more than the 1,048,576"),
    "a number of 5,000 digits": (_text(lambda t: t.replace('"notes": {', '"notes": {"n": ' + "9" * 5000 + ", ")),
                                 r"its meta is not valid JSON \(Exceeds the limit"),
    "a repeated key": (_text(lambda t: t.replace('"notes": {', '"notes": {"x": 1, "x": 2, ', 1)),
                       r"its meta has the key 'x' twice in one object"),
    "a repeated top-level key": (_text(lambda t: t.replace('{"config"', '{"figures": {}, "config"', 1)),
                                 r"its meta has the key 'figures' twice in one object"),
    # scanned once: a quadratic scan of this text for its nesting would take hours
    "an unterminated string of 100,000 escaped quotes": (_text(lambda t: t[:-1] + ', "x": "' + '\\"' * 100_000),
                                                         r"its meta is not valid JSON \(Unterminated string"),
    "a list, not an object": (_text(lambda t: "[" + t + "]"), r"its meta must be a JSON object; got list"),
    # figures: numbers or null
    "a figure of text": (_set("figures", "train_accuracy", value="abc"),
                         r"its meta's figures must be an object of numbers or nulls; got"),
    "a figure that is a list": (_set("figures", "train_accuracy", value=[0.5]), r"figures must be an object of"),
    "a figure that is an object": (_set("figures", "train_accuracy", value={"x": 1}), r"figures must be an object of"),
    "a figure that is true": (_set("figures", "train_accuracy", value=True), r"figures must be an object of"),
    # keys no part of the format knows
    "a key in config": (_set("config", "dropout", value=0.5),
                        r"its meta's config must have exactly the keys layer_dims, hidden_activation, output"),
    "a key in train": (_set("train", "warmup", value=3), r"its training options include warmup, which this "
                                                         r"chainrule does not know"),
    "a key in prep": (_set("prep", "seed", value=3), r"its meta's prep must have exactly the keys data, "
                                                     r"data_options, label, test_fraction, standardizer, fingerprint"),
    "a key in state": (_set("state", "lr", value=3), r"its meta's state must have exactly the keys epoch"),
    "a key in opt_state": (_set("state", "opt_state", "beta1", value=0.9),
                           r"its meta's state.opt_state must have exactly the keys kind, t"),
    "a key in history": (_set("history", "note", value="x"), r"its meta's history must have exactly the keys"),
    "a key in the meta": (_set("version", value=3), r"its meta has unexpected key\(s\) version"),
    # wrong types and sizes
    "epoch as text": (_set("state", "epoch", value="3"), r"its meta's state.epoch must be a non-negative integer "
                                                         r"below 2⁶³; got \"3\""),
    "epoch true": (_set("state", "epoch", value=True), r"state.epoch must be a non-negative integer below 2⁶³"),
    "epoch 2**70": (_set("state", "epoch", value=2 ** 70), r"state.epoch must be a non-negative integer below 2⁶³; "
                                                           r"got 1180591620717411303424"),
    "epoch 3.0": (_set("state", "epoch", value=3.0), r"state.epoch must be a non-negative integer below 2⁶³"),
    "t 2**63": (_set("state", "opt_state", "t", value=2 ** 63), r"state.opt_state.t must be a non-negative integer"),
    "t negative": (_set("state", "opt_state", "t", value=-1), r"state.opt_state.t must be a non-negative integer"),
    "t null": (_set("state", "opt_state", "t", value=None), r"state.opt_state.t must be a non-negative integer"),
    "an unknown optimizer state": (_set("state", "opt_state", "kind", value=[1]),
                                   r"state.opt_state.kind must be a string; got \[1\]"),
    "best_epoch 2**70": (_set("history", "best_epoch", value=2 ** 70),
                         r"history.best_epoch must be a non-negative integer below 2⁶³ or None"),
    "a seed as text": (_set("history", "seed", value="7"), r"history.seed must be an integer or None; got '7'"),
    "a stop reason that is a number": (_set("history", "stop_reason", value=1), r"history.stop_reason must be a str"),
    "layer_dims 2**70": (_set("config", "layer_dims", value=[2, 2 ** 70, 1]),
                         r"W1 must have shape \(n_1, n_0\) = \(1180591620717411303424, 2\)"),
    "layer_dims of text": (_set("config", "layer_dims", value=["2", 3, 1]),
                           r"its configuration is invalid: layer_dims must be positive integers"),
    "layer_dims 1e400 (inf)": (_text(lambda t: t.replace('"layer_dims": [2, 3, 1]', '"layer_dims": [2, 1e400, 1]')),
                               r"its configuration is invalid: layer_dims must be positive integers; "
                               r"got \[2, inf, 1\]"),
    "layer_dims negative": (_set("config", "layer_dims", value=[2, -3, 1]), r"layer_dims must be positive integers"),
    "300,000 layers": (_set("config", "layer_dims", value=[1] * 300_000),
                       r"its config has 299,999 layers, but the archive holds only 25 entries"),
    "layer_dims an object": (_set("config", "layer_dims", value={"a": 1}), r"its configuration is invalid"),
    "a learning rate NaN": (_text(lambda t: re.sub(r'"learning_rate": [^,]+', '"learning_rate": NaN', t)),
                            r"its training options are invalid: learning_rate must be a positive number; got nan"),
    "a learning rate 1e400 (inf)": (_text(lambda t: re.sub(r'"learning_rate": [^,]+', '"learning_rate": 1e400', t)),
                                    r"learning_rate must be a positive number; got inf"),
    "num_epochs true": (_set("train", "num_epochs", value=True), r"num_epochs must be a non-negative integer"),
    "a negative batch size": (_set("train", "mini_batch_size", value=-16), r"its training options are invalid"),
    "an optimizer that is an object": (_set("train", "optimizer", value={"name": "adam"}),
                                       r"its training options are invalid: unknown optimizer"),
    "test_fraction NaN": (_text(lambda t: re.sub(r'"test_fraction": [^,]+', '"test_fraction": NaN', t)),
                          r"prep.test_fraction must be in \[0, 1\); got nan"),
    "test_fraction as text": (_set("prep", "test_fraction", value="0.25"),
                              r"its meta's prep.test_fraction must be a number"),
    "data_options a list": (_set("prep", "data_options", value=[]), r"its meta's prep.data_options must be an object"),
    "data a number": (_set("prep", "data", value=5), r"prep.data must be a string or None; got 5"),
    "standardizer as text": (_set("prep", "standardizer", value="yes"), r"prep.standardizer must be true or false"),
    "a fingerprint too short": (_set("prep", "fingerprint", value="abc123"),
                                r"prep.fingerprint must be null or 64 hexadecimal digits 0-9a-f; got \"abc123\""),
    "a fingerprint in capitals": (_set("prep", "fingerprint", value="AB" * 32), r"prep.fingerprint must be null"),
    "a fingerprint that is a number": (_set("prep", "fingerprint", value=12), r"prep.fingerprint must be null"),
    "best cost as text": (_set("state", "best", value={"cost": "low", "epoch": 1, "waited": 0, "params": "model"}),
                          r"state.best.cost must be a number"),
    "best waited 2**64": (_set("state", "best", value={"cost": 1.0, "epoch": 1, "waited": 2 ** 64,
                                                       "params": "model"}),
                          r"state.best.waited must be a non-negative integer below 2⁶³"),
    "params neither own nor model": (_set("state", "params", value="mine"),
                                     r"state.params must be \"own\" or \"model\"; got \"mine\""),
    "feature names of numbers": (_set("feature_names", value=[1, 2]), r"feature_names must be a list of strings"),
    "classes as text": (_set("classes", value="01"), r"classes must be a list of strings"),
    "notes a list": (_set("notes", value=[1]), r"its meta's notes must be an object; got \[1\]"),
    "a key with a newline": (_set("train", "warm\nup", value=1), r"include warm up, which"),
}


@pytest.mark.parametrize("case", METAS)
def test_crafted_metadata_is_refused_in_one_sentence(case, saved, tmp_path):
    change, problem = METAS[case]
    refusal(with_meta(saved, tmp_path / "bad.npz", change(str(entries(saved)["meta"]))), problem)


def _nested(depth):
    """A list ``depth`` levels deep: [[…[]…]]."""
    value = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_the_meta_may_nest_exactly_as_deep_as_the_bound_for_save_and_load(model, tmp_path):
    """Notes sit at level 2 of the meta, so lists 62 deep in them make a meta 64 deep, which saves
    and loads; one level more is refused by save (a ValueError) and by load (a crafted file)."""
    deepest = model._replace(notes={"deep": _nested(MAX_META_DEPTH - 2)})
    assert load(save(tmp_path / "deep.npz", deepest)).notes == deepest.notes
    too_deep = model._replace(notes={"deep": _nested(MAX_META_DEPTH - 1)})
    with pytest.raises(ValueError, match=r"notes\['deep'\]\[0\].*… nests deeper than the 64 levels"):
        save(tmp_path / "deeper.npz", too_deep)
    text = json.dumps(meta_of(tmp_path / "deep.npz")).replace("[]", "[[]]")
    refusal(with_meta(tmp_path / "deep.npz", tmp_path / "bad.npz", text), r"its meta nests 65 levels")


def test_the_meta_may_be_exactly_as_long_as_the_bound(model, tmp_path):
    length = len(str(entries(save(tmp_path / "short.npz", model._replace(notes={"long": ""})))["meta"]))
    longest = model._replace(notes={"long": "x" * (MAX_META_CHARS - length)})
    assert len(str(entries(save(tmp_path / "longest.npz", longest))["meta"])) == MAX_META_CHARS
    assert load(tmp_path / "longest.npz").notes == longest.notes
    with pytest.raises(ValueError, match=r"would take 1,048,577 characters, more than the 1,048,576"):
        save(tmp_path / "longer.npz", model._replace(notes={"long": "x" * (MAX_META_CHARS - length + 1)}))


def test_nan_and_infinite_figures_load_as_numbers(model, tmp_path):
    """A diverged run measures NaN and inf; JSON's NaN and Infinity carry them."""
    loaded = load(save(tmp_path / "m.npz", model._replace(figures={"cost": math.nan, "val_cost": math.inf})))
    assert math.isnan(loaded.figures["cost"]) and loaded.figures["val_cost"] == math.inf


def test_a_damaged_format_1_meta_is_refused_in_one_sentence(tmp_path):
    arrays = entries(FIXTURES / "v1-cli-18-epochs.npz")
    meta = json.loads(str(arrays["meta"]))
    meta["optimizer_state"]["t"] = 2 ** 70
    arrays["meta"] = np.array(json.dumps(meta))
    refusal(write_entries(tmp_path / "v1.npz", arrays), r"state.opt_state.t must be a non-negative integer")


def test_save_refuses_counts_beyond_int64_as_load_does(model, tmp_path):
    with pytest.raises(ValueError, match=r"state.epoch must be a non-negative integer below 2⁶³; got 1180591620"):
        save(tmp_path / "m.npz", model._replace(state=model.state._replace(epoch=2 ** 70)))
    assert not (tmp_path / "m.npz").exists()


# --- the data's fingerprint -------------------------------------------------------------------


def test_data_fingerprint_is_the_sha256_of_shapes_dtypes_and_bytes():
    """Computed here from the documented layout: for X then Y, "<dtype> <shape>\\n" and the C-order bytes."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((2, 300)), (rng.random((1, 300)) > 0.5).astype(np.float64)
    expected = hashlib.sha256(b"<f8 2,300\n" + X.tobytes() + b"<f8 1,300\n" + Y.tobytes()).hexdigest()
    assert data_fingerprint(X, Y) == expected
    X32, labels = X.astype(np.float32), np.arange(300, dtype=np.int64).reshape(1, 300) % 3
    assert data_fingerprint(X32, labels) == hashlib.sha256(b"<f4 2,300\n" + X32.tobytes() + b"<i8 1,300\n"
                                                           + labels.tobytes()).hexdigest()
    assert data_fingerprint(np.asfortranarray(X), Y) == expected          # the values in C order, as held
    assert re.fullmatch(r"[0-9a-f]{64}", expected)


def test_data_fingerprint_changes_with_any_value_order_shape_or_dtype():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((3, 8)), rng.integers(0, 2, (1, 8)).astype(np.float64)
    base = data_fingerprint(X, Y)
    one_value = X.copy()
    one_value[2, 5] = np.nextafter(one_value[2, 5], np.inf)
    one_label = Y.copy()
    one_label[0, 3] = 1 - one_label[0, 3]
    permutation = np.roll(np.arange(8), 1)
    variants = [data_fingerprint(one_value, Y), data_fingerprint(X, one_label),
                data_fingerprint(X[:, permutation], Y[:, permutation]),          # examples reordered
                data_fingerprint(X.T.copy(), Y), data_fingerprint(X.reshape(4, 6), Y),
                data_fingerprint(X.astype(np.float32), Y), data_fingerprint(Y, X)]
    assert base not in variants and len(set(variants)) == len(variants)
    with pytest.raises(ValueError, match=r"X must be an array of numbers"):
        data_fingerprint(np.array([[None]]), Y)


def test_the_fingerprint_round_trips_and_older_files_load_without_one(model, tmp_path):
    path = save(tmp_path / "m.npz", model)
    assert meta_of(path)["prep"]["fingerprint"] == model.prep.fingerprint
    assert load(path).prep.fingerprint == model.prep.fingerprint
    without = save(tmp_path / "without.npz", model._replace(prep=model.prep._replace(fingerprint=None)))
    assert "fingerprint" not in meta_of(without)["prep"]                  # as files before the field
    assert load(without).prep.fingerprint is None
    meta = meta_of(without)
    meta["prep"]["fingerprint"] = None
    assert load(with_meta(without, tmp_path / "null.npz", meta)).prep.fingerprint is None
    assert load(FIXTURES / "v1-cli-18-epochs.npz").prep.fingerprint is None
    with pytest.raises(ValueError, match=r"prep.fingerprint must be None or data_fingerprint"):
        save(tmp_path / "bad.npz", model._replace(prep=model.prep._replace(fingerprint="F" * 64)))


# --- fuzzing: whatever the file, a SavedModel or one sentence ---------------------------------


@pytest.fixture(scope="module")
def seeds(tmp_path_factory, model):
    """Valid model files to mutate: every part, float32 bare, early stopping's own parameters, format 1."""
    folder = tmp_path_factory.mktemp("seeds")
    config = cr.ModelConfig([3, 4, 2, 3], "relu", "softmax")
    params, X, Y = random_problem(config, 30, np.random.default_rng(2))
    f32 = [cr.LayerParams(W.astype(np.float32), b.astype(np.float32)) for W, b in params]
    stopping = TrainConfig(optimizer="momentum", learning_rate=0.5, num_epochs=200, patience=2, min_delta=1.0)
    early = fit(config, X, Y, stopping, state=TrainState(params))
    assert early.state.best is not None
    paths = [save(folder / "full.npz", model),
             save(folder / "f32.npz", SavedModel(config, f32, classes=("a", "b", "c"))),
             save(folder / "early.npz", SavedModel(config, early.params, stopping, early.state, early.history,
                                                   DataPrep(None, None, None, 0.0, None), figures={"cost": 0.5})),
             FIXTURES / "v1-library.npz", FIXTURES / "v1-cli-18-epochs.npz"]
    return [(path.read_bytes(), entries(path)) for path in paths]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "fuzzed.npz"


def check_load(path):
    """The promise: a SavedModel that saves again, or one sentence naming the file; nothing else."""
    try:
        loaded = load(path)
    except ModelFileError as exc:
        assert_one_sentence(str(exc), path)
        assert exc.path == path
        event(f"refused: {' '.join(str(exc).split(': ', 1)[1].split()[:4])}")
        return
    assert type(loaded) is SavedModel
    save(path.with_suffix(".again"), loaded)
    event("loaded")


JSON_LEAVES = (st.none() | st.booleans() | st.integers(-2, 5) | st.sampled_from([2 ** 63, 2 ** 70, -(2 ** 70)])
               | st.floats() | st.text(max_size=12)
               | st.sampled_from(["own", "model", "AdamState", "GDState", "adam", "relu", "softmax", "", "a" * 64]))
JSON_VALUES = st.recursive(JSON_LEAVES, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=8)
KNOWN_KEYS = ["config", "train", "state", "history", "prep", "figures", "notes", "layer_dims", "epoch", "t", "kind",
              "opt_state", "best", "params", "cost", "waited", "fingerprint", "standardizer", "data_options",
              "learning_rate", "seed", "best_epoch", "stop_reason", "settings", "optimizer_state"]


def _paths(value, prefix=()):
    """Every path (keys and indices) to a node of a JSON value, the root first."""
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _paths(inner, (*prefix, i))


def _mutate_meta(meta, data):
    paths = list(_paths(meta))
    for _ in range(data.draw(st.integers(1, 3), label="meta changes")):
        where = data.draw(st.sampled_from(paths[1:]), label="path")
        parent = meta
        for key in where[:-1]:
            parent = parent[key]
        action = data.draw(st.sampled_from(["replace", "replace", "delete", "add"]), label="action")
        if action == "replace":
            parent[where[-1]] = data.draw(JSON_VALUES, label="value")
        elif action == "delete":
            del parent[where[-1]]
        elif isinstance(parent[where[-1]], dict):
            parent[where[-1]][data.draw(st.sampled_from(KNOWN_KEYS) | st.text(max_size=6), label="key")] = \
                data.draw(JSON_VALUES, label="value")
        paths = list(_paths(meta))
        if len(paths) < 2:
            break
    return meta


DTYPES = ["<f4", "<f8", ">f8", "<f2", "<i8", "<u1", "|b1", "<c16", "<U3", "|S2", "<m8[s]", "|V8"]


def _mutate_array(A, data):
    kind = data.draw(st.sampled_from(["dtype", "transpose", "slice", "axis", "empty", "fortran", "nan", "scalar"]),
                     label="array change")
    if kind == "dtype":
        return np.zeros(A.shape, data.draw(st.sampled_from(DTYPES), label="dtype"))
    if kind == "transpose":
        return A.T.copy()
    if kind == "slice":
        return A[..., :-1] if A.ndim else A
    if kind == "axis":
        return A[..., None]
    if kind == "empty":
        return np.zeros((0,) * max(A.ndim, 1), A.dtype if A.dtype.kind != "U" else "<f8")
    if kind == "fortran":
        return np.asfortranarray(A)
    if kind == "nan":
        return np.full(A.shape, np.nan) if A.dtype.kind == "f" else A
    return np.array(data.draw(st.integers(-3, 3) | st.floats() | st.text(max_size=3), label="scalar"))


def _mutate_entries(arrays, data):
    names = list(arrays)
    for _ in range(data.draw(st.integers(1, 3), label="entry changes")):
        action = data.draw(st.sampled_from(["remove", "add", "rename", "change", "change", "pickle"]), label="action")
        name = data.draw(st.sampled_from(names), label="entry")
        if action == "remove":
            arrays.pop(name, None)
        elif action == "add":
            new = data.draw(st.sampled_from(["W9", "b1", "state/W1", "best/b2", "state/v/dW1", "state/s/db1",
                                             "history/epoch", "prep/mean", "standardizer/std", "extra", "W1/x"])
                            | st.text("abWbv/19", min_size=1, max_size=8), label="new name")
            arrays[new] = _mutate_array(arrays.get(name, np.zeros((2, 2))), data)
        elif action == "rename" and name in arrays:
            arrays[data.draw(st.text("abWbv/19", min_size=1, max_size=8), label="new name")] = arrays.pop(name)
        elif action == "change" and name in arrays:
            arrays[name] = _mutate_array(arrays[name], data)
        elif action == "pickle":
            arrays[name] = np.array([{"x": 1}], dtype=object)
    return arrays


def _mutate_bytes(raw, data):
    raw = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4), label="byte changes")):
        at = data.draw(st.integers(0, max(len(raw) - 1, 0)), label="at")
        action = data.draw(st.sampled_from(["flip", "flip", "truncate", "insert", "delete"]), label="action")
        if action == "flip" and raw:
            raw[at] ^= data.draw(st.integers(1, 255), label="xor")
        elif action == "truncate":
            del raw[at:]
        elif action == "insert":
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=16), label="bytes")
        else:
            del raw[at:at + data.draw(st.integers(1, 64), label="length")]
    return bytes(raw)


@FUZZ
@given(data=st.data())
def test_fuzz_bytes_of_a_model_file(seeds, fuzzed, data):
    raw, _ = data.draw(st.sampled_from(seeds), label="seed")
    fuzzed.write_bytes(_mutate_bytes(raw, data))
    check_load(fuzzed)


@FUZZ
@given(data=st.data())
def test_fuzz_the_meta_of_a_model_file(seeds, fuzzed, data):
    _, arrays = data.draw(st.sampled_from(seeds), label="seed")
    meta = _mutate_meta(json.loads(str(arrays["meta"])), data)
    write_entries(fuzzed, arrays | {"meta": np.array(json.dumps(meta, ensure_ascii=False))})
    check_load(fuzzed)


@FUZZ
@given(data=st.data())
def test_fuzz_the_entries_of_a_model_file(seeds, fuzzed, data):
    _, arrays = data.draw(st.sampled_from(seeds), label="seed")
    write_entries(fuzzed, _mutate_entries(dict(arrays), data),
                  data.draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]), label="compression"))
    check_load(fuzzed)


@FUZZ
@given(data=st.data())
def test_fuzz_everything_at_once(seeds, fuzzed, data):
    _, arrays = data.draw(st.sampled_from(seeds), label="seed")
    arrays = dict(arrays)
    if data.draw(st.booleans(), label="meta"):
        arrays["meta"] = np.array(json.dumps(_mutate_meta(json.loads(str(arrays["meta"])), data)))
    if data.draw(st.booleans(), label="entries"):
        arrays = _mutate_entries(arrays, data)
    write_entries(fuzzed, arrays)
    if data.draw(st.booleans(), label="bytes"):
        fuzzed.write_bytes(_mutate_bytes(fuzzed.read_bytes(), data))
    check_load(fuzzed)

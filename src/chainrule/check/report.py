"""What ``check`` found: one ``Finding`` per diagnosis, a ``FunctionReport`` per function,
and the ``CheckReport`` of a file, as a table, diagnoses and JSON for graders.

Statuses, from best to worst: "ok" (the course's result), "absorbed" (correct in the
absorbed convention), "note" (correct, with something worth knowing), "wrong".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

STATUSES = ("ok", "absorbed", "note", "wrong")
SYMBOLS = {"ok": "✔", "absorbed": "absorbed ✔", "note": "✔ (note)", "wrong": "✘"}


class Finding(NamedTuple):
    """One diagnosis of one function.

    status : one of STATUSES; kind : the name of the diagnosis ("correct", "absorbed",
    "double_one_over_m", …); message : what the learner's arrays are, in the course's
    notation; fix : one line saying what to write instead ("" when nothing is to change);
    layers : the layers l it is about (the course's superscript [l]), if any.
    """

    status: str
    kind: str
    message: str
    fix: str = ""
    layers: tuple[int, ...] = ()

    def to_json(self) -> dict:
        return {"status": self.status, "kind": self.kind, "message": self.message, "fix": self.fix,
                "layers": list(self.layers)}


def worst(statuses) -> str:
    """The worst of some statuses ("ok" for none)."""
    return max(statuses, key=STATUSES.index, default="ok")


@dataclass(frozen=True)
class FunctionReport:
    """The findings of one learner function, what it was recognised as and what it ran on."""

    name: str
    findings: tuple[Finding, ...]
    recognised: str = ""
    cases: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        return worst(f.status for f in self.findings)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of the findings of the function's status, in order."""
        return tuple(f.kind for f in self.findings if f.status == self.status)

    def to_json(self) -> dict:
        return {"name": self.name, "status": self.status, "recognised": self.recognised, "cases": list(self.cases),
                "findings": [f.to_json() for f in self.findings]}


@dataclass(frozen=True)
class CheckReport:
    """The report of one file (or namespace): each function found, in the course's order."""

    file: str
    functions: tuple[FunctionReport, ...]
    notes: tuple[str, ...] = ()
    not_found: tuple[str, ...] = field(default=())

    def __getitem__(self, name: str) -> FunctionReport:
        for report in self.functions:
            if report.name == name:
                return report
        raise KeyError(f"{name!r} was not checked; checked: {', '.join(r.name for r in self.functions) or 'nothing'}")

    @property
    def status(self) -> str:
        return worst(r.status for r in self.functions)

    @property
    def exit_status(self) -> int:
        """0 when everything found is correct (either convention), 1 when something is wrong."""
        return 1 if self.status == "wrong" else 0

    def table(self) -> str:
        """One row per function: its verdict and the first finding, in plain text."""
        width = max((len(r.name) for r in self.functions), default=8)
        rows = [f"{'function':<{width}}  {'verdict':<12}  what"]
        for r in self.functions:
            shown = [f for f in r.findings if f.status == r.status] or list(r.findings)
            if r.status == "ok":
                summary = "matches the course"
            elif r.status == "absorbed":
                summary = "the absorbed convention: 1/m in dZ[L]; dW, db as the course's"
            else:
                summary = _first_sentence(shown[0].message)
            rows.append(f"{r.name:<{width}}  {SYMBOLS[r.status]:<12}  {summary}")
        return "\n".join(rows)

    def diagnoses(self) -> str:
        """Every finding that is not plain "correct", with its fix, function by function."""
        parts = []
        for r in self.functions:
            shown = [f for f in r.findings if f.kind != "correct"]
            if not shown:
                continue
            lines = [f"{r.name}" + (f"  ({r.recognised})" if r.recognised else "")]
            for f in shown:
                lines.append(f"  {SYMBOLS[f.status]} {f.message}")
                if f.fix:
                    lines.append(f"      fix: {f.fix}")
            parts.append("\n".join(lines))
        return "\n\n".join(parts)

    def text(self) -> str:
        """The whole report: notes, the table, the diagnoses and a last line with the verdict."""
        parts = [f"chainrule check {self.file}"]
        parts += [f"note: {n}" for n in self.notes]
        if not self.functions:
            parts.append("found none of the course's functions (they are looked up by the course's names, "
                         "e.g. linear_backward, L_model_backward, backward_propagation)")
            return "\n".join(parts)
        parts += ["", self.table()]
        recognised = [f"  {r.name}: {r.recognised}" for r in self.functions if r.recognised]
        if recognised:
            parts += ["", "recognised:"] + recognised
        diagnoses = self.diagnoses()
        if diagnoses:
            parts += ["", diagnoses]
        wrong = [r.name for r in self.functions if r.status == "wrong"]
        parts += ["", f"{len(self.functions) - len(wrong)} of {len(self.functions)} functions correct"
                  + (f"; wrong: {', '.join(wrong)}" if wrong else " (either convention)")]
        return "\n".join(parts)

    def to_json(self) -> dict:
        return {"file": self.file, "status": self.status, "exit_status": self.exit_status,
                "notes": list(self.notes), "not_found": list(self.not_found),
                "functions": [r.to_json() for r in self.functions]}

    @staticmethod
    def from_json(data: dict) -> CheckReport:
        functions = tuple(
            FunctionReport(f["name"], tuple(Finding(g["status"], g["kind"], g["message"], g["fix"], tuple(g["layers"]))
                                            for g in f["findings"]), f["recognised"], tuple(f["cases"]))
            for f in data["functions"])
        return CheckReport(data["file"], functions, tuple(data["notes"]), tuple(data["not_found"]))


def _first_sentence(message: str) -> str:
    head = message.split(": ", 1)[0] if len(message) > 70 else message
    return head if len(head) <= 70 else head[:67] + "…"


# --- one finding per thing said ----------------------------------------------------------------


def _key(f: Finding, arrays: bool = True) -> tuple:
    """What two findings share when they say the same thing of other layers or m (and, with
    ``arrays`` False, of dW or db); the "— in layers …" of a merged finding left out."""
    text = re.sub(r"[-−]?\d+", "#", f.message.split(" — in ")[0].split(" (on ")[0])
    if not arrays:
        text = re.sub(r"\b(dW|db)\b", "d·", text)
    return f.status, f.kind, text


def merge(findings: list[Finding], L: int | None = None) -> list[Finding]:
    """One finding per thing said of one problem: the layers it holds in listed ("in every
    layer" when they are all L of them), and dW[l], db[l] said together when both are so in
    the same layers."""
    by_array: dict[tuple, list[Finding]] = {}
    for f in findings:
        by_array.setdefault(_key(f), []).append(f)
    named = {}                                               # the layer each merged finding's words name
    merged = []
    for group in by_array.values():
        f = group[0]._replace(layers=tuple(sorted({l for f in group for l in f.layers})))
        named[id(f)] = group[0].layers[0] if group[0].layers else None
        merged.append(f)
    out: dict[tuple, Finding] = {}
    for f in merged:                                         # dW and db of the same layers: one sentence
        key = (*_key(f, arrays=False), f.layers)
        if key in out and f.message.startswith("db") and out[key][0].message.startswith("dW"):
            first, layer = out[key]
            out[key] = (first._replace(message=re.sub(r"^dW(\[\d+\])? is ", r"dW\1, db\1 are ", first.message)), layer)
        else:
            out[key if key not in out else (*_key(f), f.layers)] = (f, named[id(f)])
    return [_as_general(f, L, layer) for f, layer in out.values()]


def merge_cases(findings: list[Finding]) -> list[Finding]:
    """One finding per thing said over several problems: the first problem's words, all layers."""
    groups: dict[tuple, Finding] = {}
    for f in findings:
        key = _key(f)
        if key in groups:
            old = groups[key]
            groups[key] = old._replace(layers=tuple(sorted(set(old.layers) | set(f.layers))))
        else:
            groups[key] = f
    return list(groups.values())


def _as_general(f: Finding, L: int | None, named: int | None) -> Finding:
    """A finding about several layers (or all of a network's), written with the course's l:
    "dW[l] … — in layers 1, 2, 3". ``named``: the layer its words were written for."""
    every = L is not None and L >= 2 and f.layers in (tuple(range(1, L + 1)), tuple(range(1, L)))
    if (len(f.layers) < 2 and not every) or " — in " in f.message or named is None:
        return f

    def general(text: str) -> str:
        shifts = {named - 1: "[l−1]", named: "[l]", named + 1: "[l+1]"}
        return re.sub(r"\[(\d+)\]", lambda k: shifts.get(int(k.group(1)), k.group(0)), text)

    if L is not None and f.layers == tuple(range(1, L + 1)):
        where = "in every layer"
    elif L is not None and f.layers == tuple(range(1, L)):
        where = "in every hidden layer (l = 1 … L−1)"
    else:
        where = f"in layers {', '.join(map(str, f.layers))}"
    return f._replace(message=f"{general(f.message)} — {where}", fix=general(f.fix))

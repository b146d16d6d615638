"""Thousands of mutated model files: the checker only ever answers with its own error.

Two mutation families, starting from the shipped greenhouse files: tree mutations (delete a
key, replace a value by a random scalar or container, duplicate a pin, rename a key, insert an
unknown key) re-dumped as YAML, and text mutations (insert, delete or replace characters) that
break the YAML itself.  Whatever comes in, ``parse_text`` returns a ModelFile or raises
ModelFileError whose diagnostics all carry a position inside the file.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iotcs_hw.runtime.config import ModelDirectory, ModelFile, ModelFileError, parse_text
from iotcs_hw.runtime.config.drivers_info import DriverCatalog

MODELS_DIR = Path(__file__).resolve().parents[2] / "device_models"
GREENHOUSE_TEXT = (MODELS_DIR / "greenhouse.yaml").read_text()
GREENHOUSE: Any = yaml.safe_load(GREENHOUSE_TEXT)
GATEWAY: Any = yaml.safe_load((MODELS_DIR / "greenhouse-gateway.yaml").read_text())
MODELS = ModelDirectory(MODELS_DIR)
DRIVERS = DriverCatalog()
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

Path_ = tuple[Any, ...]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        ["30s", "5min", "0x76", "GPIO17", "BOARD11", "nan", "on", "5%", "1 -> 2", "urn:x",
         "relay", "bme280", "median", "every_sample", "-1s", "99999", "", " "]
    ),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every path to a value in a tree of dicts and lists (the root excluded)."""
    out: list[Path_] = []
    if isinstance(node, dict):
        for key, child in node.items():
            out.append((*prefix, key))
            out.extend(_paths(child, (*prefix, key)))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            out.append((*prefix, i))
            out.extend(_paths(child, (*prefix, i)))
    return out


def _parent(tree: Any, path: Path_) -> Any:
    for step in path[:-1]:
        tree = tree[step]
    return tree


def _mutate(tree: Any, data: st.DataObject) -> Any:
    paths = _paths(tree)
    if not paths:
        return data.draw(values)
    path = data.draw(st.sampled_from(paths))
    parent, last = _parent(tree, path), path[-1]
    action = data.draw(
        st.sampled_from(["delete", "replace", "rename", "insert", "duplicate_pin", "wrap"])
    )
    if action == "delete":
        del parent[last]
    elif action == "replace":
        parent[last] = data.draw(values)
    elif action == "rename" and isinstance(parent, dict):
        value = parent.pop(last)
        parent[data.draw(st.sampled_from([f"{last}x", str(last)[:-1] or "k", "lambda"]))] = value
    elif action == "insert" and isinstance(parent, dict):
        parent[data.draw(st.text(min_size=1, max_size=8))] = data.draw(values)
    elif action == "duplicate_pin":
        pins = [p for p in paths if p[-1] in ("pin", "address", "channel")]
        if len(pins) >= 2:
            source, target = data.draw(st.permutations(pins))[:2]
            _parent(tree, target)[target[-1]] = _parent(tree, source)[source[-1]]
    elif action == "wrap":
        parent[last] = [parent[last]]
    return tree


def _assert_checker_answers(text: str) -> ModelFile | None:
    lines = max(text.count("\n") + 1, 1)
    try:
        return parse_text(text, "mutant.yaml", models=MODELS, drivers=DRIVERS)
    except ModelFileError as exc:
        assert exc.diagnostics, "a ModelFileError always lists its problems"
        for d in exc.diagnostics:
            assert d.file == "mutant.yaml"
            assert 1 <= d.line <= lines + 1, d
            assert d.column >= 1, d
            assert d.message
        return None


@settings(
    max_examples=1200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    data=st.data(),
    rounds=st.integers(min_value=1, max_value=4),
    base=st.sampled_from([GREENHOUSE, GATEWAY]),
)
def test_tree_mutations_only_ever_raise_model_file_error(
    data: st.DataObject, rounds: int, base: Any
) -> None:
    tree = copy.deepcopy(base)
    for _ in range(rounds):
        tree = _mutate(tree, data)
    text = yaml.dump(tree, Dumper=_DUMPER, sort_keys=False, allow_unicode=True)
    result = _assert_checker_answers(text)
    if result is not None:
        # Whatever passed is fully typed: no NaN intervals, no placeholders.
        for sensor in result.sensors:
            assert math.isfinite(sensor.interval_s)
        assert result.store.path


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(GREENHOUSE_TEXT)),
            st.integers(min_value=0, max_value=6),
            st.text(alphabet=st.sampled_from(list(":-[]{}#&*!|>'\"%@`, \n\t0aZ")), max_size=4),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_text_mutations_only_ever_raise_model_file_error(
    edits: list[tuple[int, int, str]],
) -> None:
    text = GREENHOUSE_TEXT
    for position, delete, insert in edits:
        at = min(position, len(text))
        text = text[:at] + insert + text[at + delete :]
    _assert_checker_answers(text)


def test_the_unmutated_greenhouse_passes() -> None:
    model_file = _assert_checker_answers(GREENHOUSE_TEXT)
    assert model_file is not None
    assert [s.name for s in model_file.sensors] == ["climate", "daylight", "soil"]

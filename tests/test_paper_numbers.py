"""The paper's numbers live in one module; notebooks quote it instead of keeping copies."""
from __future__ import annotations

import json
from pathlib import Path

from minigapt.eval import paper_numbers

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_vendi_over_data_is_each_sets_own_ratio():
    for name, sets in paper_numbers.TABLE1.items():
        for i, set_name in enumerate(paper_numbers.SETS):
            v = sets[set_name]["vendi"]
            if isinstance(v, float):
                truth = paper_numbers.TABLE1["ground truth"][set_name]["vendi"]
                assert sets[set_name]["vendi_vs_data"] == v / truth, (name, set_name)
    assert paper_numbers.TABLE1["ground truth"]["openewld"]["vendi_vs_data"] == 1.0


def test_every_set_is_labelled_test_or_out_of_distribution():
    assert set(paper_numbers.SET_LABEL) == set(paper_numbers.SETS)
    assert "in distribution" in paper_numbers.SET_LABEL["nottingham_test"]
    assert "out of distribution" in paper_numbers.SET_LABEL["openewld"]


def test_no_notebook_keeps_its_own_copy_of_table_1():
    numbers = {f"{v}" for sets in paper_numbers.TABLE1.values() for s in sets.values()
               for k, v in s.items() if k != "vendi_vs_data" and isinstance(v, float)}
    assert len(numbers) > 30
    for path in NOTEBOOKS:
        code = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        found = sorted(n for n in numbers if n in code)
        assert not found, f"{path.name} holds paper numbers {found}: quote minigapt.eval.paper_numbers"

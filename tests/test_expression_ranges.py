"""Tests of the generated expression ranges (midi_ddsp.expression) against the data card, and of
check_temperature."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from midi_ddsp.errors import ParameterError
from midi_ddsp.expression import EXPRESSIONS, EXPRESSION_NAMES, check_temperature
from midi_ddsp.instruments import INSTRUMENT_NAMES

CARD = Path(__file__).resolve().parents[1] / "data_card" / "card.json"
LOW_MARGIN, HIGH_MARGIN = 0.15, 0.25  # how far past the corpus's span a range may reach


@pytest.fixture(scope="module")
def card_expressions() -> dict:
    section = json.loads(CARD.read_text())["expressions"]
    assert set(INSTRUMENT_NAMES) <= set(section), "every instrument has a row in the card"
    return {name: section[name] for name in INSTRUMENT_NAMES}


@pytest.mark.parametrize("expression", EXPRESSIONS, ids=EXPRESSION_NAMES)
def test_generated_range_contains_every_instruments_p5_to_p95(card_expressions, expression):
    for instrument, row in card_expressions.items():
        stats = row[expression.name]
        assert stats["p5"] <= stats["p95"], (instrument, expression.name)
        assert expression.generated_low <= stats["p5"], (instrument, expression.name)
        assert stats["p95"] <= expression.generated_high, (instrument, expression.name)


@pytest.mark.parametrize("expression", EXPRESSIONS, ids=EXPRESSION_NAMES)
def test_generated_range_is_not_much_wider_than_the_corpus(card_expressions, expression):
    lowest_p5 = min(row[expression.name]["p5"] for row in card_expressions.values())
    highest_p95 = max(row[expression.name]["p95"] for row in card_expressions.values())
    assert expression.generated_low >= lowest_p5 - LOW_MARGIN
    assert expression.generated_high <= highest_p95 + HIGH_MARGIN


@pytest.mark.parametrize("expression", EXPRESSIONS, ids=EXPRESSION_NAMES)
def test_generated_range_lies_inside_the_valid_range(expression):
    # what the Expression Generator outputs must pass validate_note_table
    assert expression.valid_low <= expression.generated_low < expression.generated_high
    assert expression.generated_high <= expression.valid_high


@pytest.mark.parametrize("value", [-0.1, -1, float("nan"), float("inf"), -float("inf"), True,
                                   False, "0.5", "hot", None, [0.5]])
def test_check_temperature_rejects(value):
    with pytest.raises(ParameterError, match="temperature"):
        check_temperature(value)


@pytest.mark.parametrize("value, expected", [(0, 0.0), (0.0, 0.0), (1.5, 1.5), (1, 1.0),
                                             (np.float32(0.25), 0.25), (np.float64(2.0), 2.0)])
def test_check_temperature_accepts(value, expected):
    out = check_temperature(value)
    assert type(out) is float
    assert out == expected

"""Long prompts (issue 17, item 7): a pasted document is cut with a note, and reading is linear."""

from __future__ import annotations

import time

import pytest

from napari_textif import interpretation
from napari_textif.controls import Controls
from napari_textif.interpretation import MAX_PROMPT_CHARS, interpret


def test_a_pasted_document_is_cut_with_a_note_saying_where() -> None:
    prompt = "the visible image is dark. " + "dark " * 200_000  # about 1 MB
    start = time.perf_counter()
    result = interpret(prompt)
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0  # loose: it takes milliseconds; before the cap it ran for minutes
    assert result.controls.vis_low_light == pytest.approx(0.6)
    note = result.notes[0]
    assert f"{len(prompt):,} characters" in note and "only its first" in note
    assert f"{MAX_PROMPT_CHARS:,}" in note and "dark dark" in note
    head = interpret(prompt[:MAX_PROMPT_CHARS])
    assert (result.controls, result.phrases, result.excluded) == (head.controls, head.phrases, head.excluded)
    assert result.notes[1:] == head.notes


def test_a_prompt_up_to_the_cap_is_read_whole_without_a_note() -> None:
    prompt = ("x" * (MAX_PROMPT_CHARS - 6)) + " hazy"
    assert len(prompt) < MAX_PROMPT_CHARS
    result = interpret(prompt)
    assert result.controls.vis_haze == pytest.approx(0.6)
    assert not any("characters long" in n for n in result.notes)


def test_the_cut_never_leaves_half_a_word() -> None:
    # 'dimension' straddles the cap; its first three letters alone would read as 'dim'.
    prompt = " " * (MAX_PROMPT_CHARS - 3) + "dimension of the scene"
    result = interpret(prompt)
    assert result.controls == Controls()
    assert "only its first 1,997 were read" in result.notes[0]


@pytest.mark.parametrize(
    "unit",
    ["dark ", "infrared dark ", "infrared, dark, ", "more infrared ", "people more infrared brighter "],
)
def test_reading_is_linear_in_the_number_of_words(monkeypatch: pytest.MonkeyPatch, unit: str) -> None:
    """Without the cap, 10x the words cost about 10x the time (it was 64-97x when quadratic).

    Loose on purpose (the machine is shared): the exact check is the next test.
    """
    monkeypatch.setattr(interpretation, "MAX_PROMPT_CHARS", 10**9)

    def best_of_three(n: int) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            interpret(unit * n)
            times.append(time.perf_counter() - start)
        return min(times)

    small, large = best_of_three(400), best_of_three(4000)
    assert large / small < 35, (small, large)


def test_each_degradation_word_looks_up_its_camera_without_scanning_the_segment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The algorithm, not the clock: no per-word segment scan is left in the readers."""
    monkeypatch.setattr(interpretation, "MAX_PROMPT_CHARS", 10**9)
    reads = 0
    real = interpretation._Reader.positions

    def counting(self: object, test: object) -> dict[int, list[int]]:
        nonlocal reads
        reads += 1
        return real(self, test)  # type: ignore[arg-type]

    monkeypatch.setattr(interpretation._Reader, "positions", counting)
    interpret("infrared dark fine more infrared " * 2000)
    assert reads == 2  # one pass for the modality words, one for the degradation words
    assert not hasattr(interpretation._Reader, "segment")

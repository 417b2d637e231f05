"""bench/RESULTS.md: `make soak` writes its own section, and `make bench`, which rewrites the
file from its own run, carries that section over."""

from __future__ import annotations

from bench.results_section import SOAK_HEADING, soak_section, write_soak_section


def test_the_soak_section_is_added_then_replaced_in_place(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Machine\n\n| CPU | 2 |\n")
    write_soak_section(["first run", "phase=steady ok=1"], results)
    write_soak_section(["second run", "phase=faults ok=1"], results)

    text = results.read_text()
    assert text.count(SOAK_HEADING) == 1
    assert "second run" in text and "first run" not in text
    assert text.startswith("# Benchmark results\n\n## Machine\n\n| CPU | 2 |\n")


def test_a_section_after_it_is_left_alone(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# R\n\n{SOAK_HEADING}\n\nold\n\n## Later\n\nkept\n")
    write_soak_section(["new"], results)
    assert results.read_text() == f"# R\n\n{SOAK_HEADING}\n\nnew\n\n## Later\n\nkept\n"
    assert soak_section(results) == f"{SOAK_HEADING}\n\nnew\n\n"

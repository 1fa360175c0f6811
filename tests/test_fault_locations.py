"""Output locations that would destroy what the job did not write: refused before anything runs."""

from __future__ import annotations

import pytest

from modelop_spark.assets.locations import check_output_locations
from modelop_spark.assets.spec import AssetSpec
from modelop_spark.errors import SpecError


def _file(url: str, name: str | None = None) -> AssetSpec:
    return AssetSpec(kind="file", url=url, format="csv", name=name)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("data/in.csv", "is also input"),  # the input itself
        ("data", "contains input"),  # a parent of the input
        ("data/in.csv/part", "is inside input"),
        ("file://{root}/data/in.csv", "is also input"),  # the same place spelled as a URL
        (".", "working directory"),
        ("..", "working directory"),
        ("/", "working directory"),
        ("model", "the model snapshot"),
    ],
)
def test_an_output_that_would_destroy_an_input_or_the_working_directory_is_refused(tmp_path, monkeypatch, output, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "in.csv").write_text("x\n1\n")
    with pytest.raises(SpecError, match=message):
        check_output_locations(
            [_file("data/in.csv", "scores_in")], [_file(output.format(root=tmp_path), "scores")], snapshot="model"
        )


def test_outputs_that_overlap_each_other_or_the_rejected_output_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError, match="outputs scores and rejected overlap"):
        check_output_locations([], [_file("out/scores", "scores")], rejected=_file("out/scores", "rejected"))
    with pytest.raises(SpecError, match="overlap"):
        check_output_locations([], [_file("out", "a"), _file("out/b", "b")])


def test_a_glob_input_protects_the_folder_it_reads_and_tables_are_compared_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError, match="contains input"):
        check_output_locations([_file("data/2024-*/x.csv")], [_file(".", "all")], cwd="/elsewhere")
    with pytest.raises(SpecError, match="is also input"):
        check_output_locations([AssetSpec(kind="sql", table="Sales.Scores")], [AssetSpec(kind="sql", table="sales.scores")])


def test_a_symlinked_path_to_the_input_is_the_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "data")
    with pytest.raises(SpecError, match="is also input"):
        check_output_locations([_file("data")], [_file("alias")])


def test_separate_locations_pass(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    check_output_locations(
        [_file("data/in.csv"), AssetSpec(kind="embedded", records=({"x": 1},))],
        [_file("out/scores"), _file("s3://bucket/scores"), AssetSpec(kind="sql", table="scores")],
        rejected=_file("out/rejected"),
        snapshot="model",
    )

"""bench.cost's pages: the README's cost table and docs/cost.md's Sources, rendered from the
figures and prices without running the benchmark."""

from __future__ import annotations

import pytest

from bench import cost, report


def usage(members: int, requests: int, send_requests: int, wru: float, offline: int = 0) -> cost.Usage:
    return cost.Usage(
        members=members,
        offline=offline,
        dynamodb_requests=requests,
        send_requests=send_requests,
        send_wru=10,
        rru=members + 1,
        wru=wru,
        moto_units=1,
        lambda_invocations=1,
        gb_seconds=0.04,
        default_ms=80,
        api_messages=members + 1,
        sqs_requests=0,
        sns_publishes=0,
    )


USAGES = [usage(2, 5, 5, 10), usage(10, 5, 5, 10), usage(10, 25, 5, 15, offline=5), usage(1000, 75, 15, 30)]


def test_the_readme_table_round_trips_through_the_readme():
    readme = cost.README.read_text()
    block = cost.readme_block(USAGES)
    written = report.with_generated(readme, block, cost.README)
    assert report.generated_part(written) == block.strip()
    assert report.with_generated(written, block) == written  # regenerating changes nothing
    before, after = readme.split(report.START)[0], readme.split(report.END)[1]
    assert written.startswith(before) and written.endswith(after)  # only the block changed


def test_the_readme_table_has_the_send_and_the_workers_apart_and_no_push_row():
    rows = [line for line in cost.readme_block(USAGES).splitlines() if line.startswith("| ")][2:]
    assert rows[0].split(" | ")[:5] == ["| 2", "5", "0", "10", "0"]
    assert rows[-1].split(" | ")[:5] == ["| 1,000", "15", "60", "10", "20"]
    assert len(rows) == 3  # 2, 10, 1,000 members: the push row (5 offline) is docs/cost.md's


@pytest.mark.parametrize("page", [cost.README, cost.COST_PAGE], ids=["README", "cost.md"])
def test_each_page_has_one_part_make_cost_rewrites(page):
    text = page.read_text()
    assert text.count(report.START) == 1 and text.count(report.END) == 1
    report.generated_part(text, page)


def test_the_cost_page_lists_every_price_as_the_code_prices_it():
    assert cost.sources_markdown() in cost.COST_PAGE.read_text()


def test_the_sources_say_plainly_which_prices_no_stored_page_showed():
    sources = cost.sources_markdown()
    assert (
        "| $0.625 per million WRU | https://aws.amazon.com/dynamodb/pricing/on-demand/ | not verified"
        in sources
    )
    assert "https://ably.com/pricing/full-calculator | read on the stored copy" in sources
    for blog in ("airbyte", "cloudchipr", "amnic", "factualminds", "softether", "mattheworiordan"):
        assert blog not in sources


def test_write_checks_both_pages_before_measuring_anything(tmp_path, monkeypatch):
    unmarked = tmp_path / "README.md"
    unmarked.write_text("# no markers\n")
    monkeypatch.setattr(cost, "README", unmarked)
    monkeypatch.setattr(cost, "import_times", lambda runs: pytest.fail("measured before checking"))
    with pytest.raises(ValueError, match=r"no .* section to regenerate"):
        cost.main(["--write"])


def test_import_runs_must_be_positive(capsys):
    with pytest.raises(SystemExit) as exited:
        cost.main(["--import-runs", "0"])
    assert exited.value.code == 2
    assert "--import-runs must be >= 1" in capsys.readouterr().err
    with pytest.raises(ValueError, match="runs must be >= 1"):
        cost.import_times(0)

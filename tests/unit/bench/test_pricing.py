"""bench.pricing and bench.report: metering increments, prices, hosted plans, docs regeneration."""

from __future__ import annotations

import pytest

from bench import pricing, report


def test_api_gateway_meters_each_frame_in_32_kb_increments():
    assert pricing.api_gateway_messages([200], [300, 300]) == 3
    assert pricing.api_gateway_messages([32 * 1024], [32 * 1024 + 1]) == 1 + 2
    assert pricing.api_gateway_messages([0], []) == 1  # an empty frame is still a message


def test_sqs_bills_each_64_kb_chunk_of_a_request():
    assert pricing.sqs_requests([10, 64 * 1024, 64 * 1024 + 1, 256 * 1024]) == 1 + 1 + 2 + 4


def test_gb_seconds_round_each_invocation_up_to_the_millisecond():
    assert pricing.gb_seconds([0.0101, 0.002], 512) == pytest.approx((11 + 2) / 1000 * 0.5)
    assert pricing.gb_seconds([0.0], 1024) == pytest.approx(0.001)


def test_dollars_per_million_and_per_unit():
    assert pricing.dollars("dynamodb_wru", 10) == pytest.approx(10 * 0.625 / 1e6)
    assert pricing.dollars("dynamodb_rru", 1e6) == pytest.approx(0.125)
    assert pricing.dollars("lambda_gb_s", 2) == pytest.approx(2 * 0.0000166667)
    assert pricing.dollars("ably_standard", 1) == 29.0


def test_every_price_names_its_source():
    for price in pricing.PRICES.values():
        assert price.source.startswith("https://") and price.dollars > 0


def test_hosted_message_counts():
    assert pricing.ably_messages(2) == 3  # published once, received by both members
    assert pricing.pusher_messages(2) == 2  # published once, delivered to the other member


def test_the_cheapest_pusher_plan_that_covers_the_daily_messages():
    assert pricing.pusher_plan(150_000).name == "Sandbox"
    assert pricing.pusher_plan(1_000_000).name == "Startup"
    assert pricing.pusher_plan(1_000_001).name == "Pro"
    assert pricing.pusher_plan(10**9) is None


def test_money_keeps_small_figures_readable():
    assert report.money(0) == "$0"
    assert report.money(0.00001234) == "$1.23e-05"
    assert report.money(0.5) == "$0.5"
    assert report.money(12.345) == "$12.35"
    assert report.money(1234.5) == "$1,234"


def test_tables():
    assert report.markdown(["a", "b"], [["1", "2"]]) == "| a | b |\n| ---: | ---: |\n| 1 | 2 |"
    assert report.text(["a", "bb"], [["10", "2"]]) == " a  bb\n10   2"


def test_regenerating_a_page_replaces_only_its_generated_part(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(f"# Title\n\nintro\n\n{report.START}\nold\n{report.END}\n\nafter\n")
    report.replace_generated(page, "new table")
    report.replace_generated(page, "newer table")
    assert page.read_text() == f"# Title\n\nintro\n\n{report.START}\n\nnewer table\n\n{report.END}\n\nafter\n"


def test_a_page_without_markers_is_left_alone_with_a_clear_error(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n")
    with pytest.raises(ValueError, match=r"no .* section to regenerate"):
        report.replace_generated(page, "table")
    assert page.read_text() == "# Title\n"

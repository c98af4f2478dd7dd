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


VENDORS = ("https://aws.amazon.com/", "https://ably.com/", "https://getstream.io/")


def test_every_price_cites_the_vendors_own_page():
    for key, price in pricing.PRICES.items():
        assert price.source.startswith(VENDORS), (key, price.source)  # no blog, no mirror
        assert price.dollars > 0


def test_a_price_not_read_on_a_stored_page_says_so():
    # AWS renders its rates in the browser: no stored copy shows them (docs/cost.md, Sources).
    assert not any(p.verified for k, p in pricing.PRICES.items() if k.startswith(("dynamodb", "lambda")))
    assert pricing.PRICES["ably_messages"].verified  # "$2.50 p/million messages" on its calculator
    assert not pricing.PRICES["stream_chat"].verified


def test_stream_is_priced_by_active_users_not_by_sends():
    # A million sends from users who send 40 a day for 30 days: 834 of them, or a chat's members.
    assert pricing.stream_mau(2, 1_000_000) == 834
    assert pricing.stream_mau(1000, 1_000_000) == 1000
    assert pricing.stream_mau(2, 10_000_000) == 8334
    assert pricing.stream_dollars(10_000) == 499.0
    assert pricing.stream_dollars(10_001) is None  # above the priced plan: on request


@pytest.mark.parametrize(("members", "sends"), [(0, 10), (2, -1)])
def test_stream_active_users_refuse_an_empty_chat_or_negative_sends(members, sends):
    with pytest.raises(ValueError, match="need members >= 1 and sends >= 0"):
        pricing.stream_mau(members, sends)


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


def test_regenerating_a_text_twice_gives_the_same_text():
    text = f"a\n{report.START}\nold\n{report.END}\nb\n"
    once = report.with_generated(text, "new")
    assert report.with_generated(once, "new") == once
    assert report.generated_part(once) == "new"
    with pytest.raises(ValueError, match=r"no .* section"):
        report.generated_part(f"{report.END} {report.START}")  # markers the wrong way round


def test_a_page_without_markers_is_left_alone_with_a_clear_error(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n")
    with pytest.raises(ValueError, match=r"no .* section to regenerate"):
        report.replace_generated(page, "table")
    assert page.read_text() == "# Title\n"

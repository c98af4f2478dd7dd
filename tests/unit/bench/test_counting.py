"""bench.counting: DynamoDB item sizes and request units by the published rules, which items a
request touches, and the seeded latency draws."""

from __future__ import annotations

import random

import pytest

from bench.counting import (
    Latency,
    LogNormal,
    Touch,
    consumed_total,
    item_size,
    number_size,
    query_units,
    read_units,
    request_units,
    touches,
    value_size,
    write_units,
)


def key_of(table, item):
    return {name: item[name] for name in ("pk", "sk") if name in item}


@pytest.mark.parametrize(
    ("text", "size"),
    [("0", 2), ("7", 2), ("12", 2), ("123", 3), ("-1234.5", 4), ("1000000", 2), ("0.0001", 2), ("1e5", 2)],
)
def test_a_number_takes_a_byte_per_two_significant_digits_plus_one(text, size):
    assert number_size(text) == size


def test_value_sizes_follow_the_published_rules():
    assert value_size({"S": "héllo"}) == 6  # UTF-8 bytes
    assert value_size({"B": b"\x00\x01\x02"}) == 3
    assert value_size({"BOOL": True}) == 1
    assert value_size({"NULL": True}) == 1
    assert value_size({"SS": ["ab", "c"]}) == 3
    assert value_size({"NS": ["1", "123"]}) == 2 + 3
    # lists and maps: 3 bytes, and 1 more per element (plus a map's names)
    assert value_size({"L": [{"S": "ab"}, {"N": "1"}]}) == 3 + (1 + 2) + (1 + 2)
    assert value_size({"M": {"k": {"S": "v"}}}) == 3 + 1 + 1 + 1
    assert value_size({"L": []}) == 3


def test_an_unknown_type_is_refused():
    with pytest.raises(ValueError, match="not a DynamoDB attribute value type"):
        value_size({"X": "?"})


def test_item_size_counts_attribute_names_and_values():
    assert item_size({"pk": {"S": "abc"}, "n": {"N": "42"}}) == (2 + 3) + (1 + 2)
    assert item_size({}) == 0
    assert item_size(None) == 0


@pytest.mark.parametrize(
    ("size", "consistent", "transactional", "units"),
    [
        (0, True, False, 1.0),  # an absent item costs the minimum
        (4096, True, False, 1.0),
        (4097, True, False, 2.0),
        (100, False, False, 0.5),
        (9000, False, False, 1.5),
        (100, True, True, 2.0),
    ],
)
def test_read_units(size, consistent, transactional, units):
    assert read_units(size, consistent, transactional) == units


@pytest.mark.parametrize(
    ("before", "after", "transactional", "units"),
    [
        (0, 10, False, 1),
        (0, 1024, False, 1),
        (0, 1025, False, 2),
        (3000, 10, False, 3),  # the larger of before and after
        (0, 0, False, 1),  # a delete of nothing still costs one
        (500, 700, True, 2),
        (2000, 10, True, 4),
    ],
)
def test_write_units(before, after, transactional, units):
    assert write_units(before, after, transactional) == units


def test_a_query_rounds_the_sum_of_its_items_not_each_item():
    assert query_units([1000] * 5, consistent=True) == 2.0  # 5,000 bytes: two 4 KB blocks
    assert query_units([], consistent=False) == 0.5


def test_touches_of_single_item_requests():
    key = {"pk": {"S": "a"}}
    assert touches("GetItem", {"TableName": "t", "Key": key, "ConsistentRead": True}, key_of) == [
        Touch("t", (("pk", "S", "a"),), write=False, consistent=True)
    ]
    assert touches("GetItem", {"TableName": "t", "Key": key}, key_of)[0].consistent is False
    assert touches("UpdateItem", {"TableName": "t", "Key": key}, key_of)[0].write
    put = touches("PutItem", {"TableName": "t", "Item": {**key, "x": {"N": "1"}}}, key_of)
    assert put == [Touch("t", (("pk", "S", "a"),), write=True)]
    assert touches("DescribeTable", {"TableName": "t"}, key_of) == []


def test_touches_of_batches_and_transactions():
    batch_get = {
        "RequestItems": {"t": {"Keys": [{"pk": {"S": "a"}}, {"pk": {"S": "b"}}], "ConsistentRead": True}}
    }
    assert [t.key for t in touches("BatchGetItem", batch_get, key_of)] == [
        (("pk", "S", "a"),),
        (("pk", "S", "b"),),
    ]
    batch_write = {
        "RequestItems": {
            "t": [
                {"PutRequest": {"Item": {"pk": {"S": "a"}, "v": {"S": "x"}}}},
                {"DeleteRequest": {"Key": {"pk": {"S": "b"}}}},
            ]
        }
    }
    assert [t.write for t in touches("BatchWriteItem", batch_write, key_of)] == [True, True]
    transaction = {
        "TransactItems": [
            {"Put": {"TableName": "m", "Item": {"pk": {"S": "c"}, "sk": {"N": "2"}, "text": {"S": "hi"}}}},
            {"Update": {"TableName": "c", "Key": {"pk": {"S": "c"}}}},
            {"ConditionCheck": {"TableName": "c", "Key": {"pk": {"S": "d"}}}},
        ]
    }
    found = touches("TransactWriteItems", transaction, key_of)
    assert [t.table for t in found] == ["m", "c", "c"]
    assert found[0].key == (("pk", "S", "c"), ("sk", "N", "2"))
    assert all(t.write and t.transactional for t in found)


def test_request_units_item_by_item():
    small, large = Touch("t", (("pk", "S", "a"),), write=True), Touch("t", (("pk", "S", "b"),), write=True)
    read = Touch("t", (("pk", "S", "c"),), write=False, consistent=True)
    rru, wru = request_units([small, large, read], before={large: 5000}, after={small: 100, read: 9000})
    assert (rru, wru) == (3.0, 1 + 5)
    tx = [Touch("t", (("pk", "S", str(i)),), write=True, transactional=True) for i in range(4)]
    assert request_units(tx, {}, {t: 300 for t in tx}) == (0.0, 8.0)  # a send's transaction


def test_consumed_total_reads_one_entry_or_a_list():
    assert consumed_total({"ConsumedCapacity": {"CapacityUnits": 1.5}}) == 1.5
    assert consumed_total({"ConsumedCapacity": [{"CapacityUnits": 1}, {"CapacityUnits": 2}]}) == 3.0
    assert consumed_total({"ConsumedCapacity": []}) == 0.0
    assert consumed_total({}) == 0.0


def test_latency_draws_are_seeded_and_fall_back_to_the_service():
    table = {("dynamodb", "*"): LogNormal(4.0, 9.0), ("dynamodb", "Query"): LogNormal(50.0, 90.0)}
    first, second = Latency(table, seed=3), Latency(table, seed=3)
    draws = [first.draw("dynamodb", "GetItem") for _ in range(5)]
    assert draws == [second.draw("dynamodb", "GetItem") for _ in range(5)]
    assert all(d > 0 for d in draws)
    assert first.distribution("dynamodb", "Query") == LogNormal(50.0, 90.0)
    assert first.distribution("dynamodb", "PutItem") == LogNormal(4.0, 9.0)
    assert first.draw("sqs", "SendMessageBatch") == 0.0  # nothing configured: no latency


def test_a_lognormal_has_the_median_it_was_given():
    rng = random.Random(5)
    draws = sorted(LogNormal(20.0, 60.0).draw(rng) for _ in range(2001))
    assert draws[1000] == pytest.approx(0.020, rel=0.15)  # seconds

"""The configuration file: what it accepts, what it refuses (with the key and its line),
and that what ``dump`` writes ``load`` reads back unchanged."""

from __future__ import annotations

import pytest

from services.declarative.document import Document, DocumentError, dump, load
from services.demo import definition

HEADER = "apiVersion: p13n/v1\nkind: ParentSegment\nname: Shop\nprimary_key: td_client_id\n"


def test_a_file_is_read_as_its_documents() -> None:
    text = HEADER + "events:\n  - {name: view, database: shop, table: events}\n"
    second = HEADER.replace("Shop", "Other")
    [shop, other] = load(text + "---\n" + second, "shop.yaml")
    assert shop == Document(
        "Shop",
        "td_client_id",
        items={"events": [{"name": "view", "database": "shop", "table": "events"}]},
    )
    assert other.name == "Other"
    assert other.items == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            HEADER + "descripton: typo\n",
            "shop.yaml:5: unknown key 'descripton'; a document's keys are apiVersion, kind, name",
            id="unknown-top-level-key",
        ),
        pytest.param(
            HEADER + "events:\n  - name: view\n    database: shop\n    id: '3'\n",
            "shop.yaml:8: unknown key 'id' in events[0]; its keys are name, database, table, filters",
            id="output-only-field-of-an-item",
        ),
        pytest.param(
            HEADER + "services:\n  - name: web\n    type: PUBLIC\n    tokens: []\n",
            "shop.yaml:8: unknown key 'tokens' in services[0]",
            id="secrets-have-no-place",
        ),
        pytest.param(
            HEADER.replace("p13n/v1", "p13n/v2"),
            "shop.yaml:1: a document starts with apiVersion: p13n/v1 and kind: ParentSegment",
            id="other-version",
        ),
        pytest.param(
            HEADER.replace("primary_key: td_client_id\n", ""),
            "shop.yaml:1: primary_key is required",
            id="no-primary-key",
        ),
        pytest.param(
            HEADER + "segments:\n  - {name: a, sensitivity: SENSITIVE}\n  - {name: a}\n",
            "shop.yaml:7: segment 'a' appears twice",
            id="same-name-twice",
        ),
        pytest.param(
            HEADER + "segments: {name: a}\n", "shop.yaml:5: segments is a list", id="not-a-list"
        ),
        pytest.param(HEADER + "events: [\n", "shop.yaml:6: not valid YAML", id="bad-yaml"),
        pytest.param("", "shop.yaml: no configuration in it", id="empty"),
        pytest.param(
            HEADER + "---\n" + HEADER,
            "shop.yaml: parent segment 'Shop' is configured twice",
            id="twice",
        ),
        pytest.param(
            HEADER + "attributes:\n  - name: seen\n    type: LIST\n    sensitivity: SENSITIVE\n",
            "shop.yaml:8: attribute 'seen' is a LIST, which has no sensitivity of its own: "
            "set it on each aggregation",
            id="list-attribute-sensitivity",
        ),
        pytest.param(
            HEADER + "segments:\n  - sensitivity: SENSITIVE\n    name: 'vip '\n",
            "shop.yaml:7: segment name 'vip ' has spaces around it, which the server trims: "
            "write 'vip'",
            id="item-name-untrimmed",
        ),
        pytest.param(
            HEADER.replace("name: Shop", "name: ' Shop'"),
            "shop.yaml:3: parent segment name ' Shop' has spaces around it",
            id="parent-segment-name-untrimmed",
        ),
        pytest.param(
            HEADER + "services:\n  - name: web\n    description: 2024-01-01\n",
            "shop.yaml:7: '2024-01-01' is a date, which JSON has no form for: quote it",
            id="date",
        ),
        pytest.param(
            HEADER + "personalizations:\n  - name: p\n    sections:\n"
            "      - {name: s, payload: [{name: x, static: {1: one}}]}\n",
            "shop.yaml:8: key '1' is not text: JSON keys are text, so quote it (\"1\")",
            id="number-as-key",
        ),
        pytest.param(
            HEADER + "services:\n  - name: web\n    rate_limit: {burst: .inf}\n",
            "shop.yaml:7: '.inf' is not a number JSON can hold",
            id="infinity",
        ),
        pytest.param(HEADER + "segments: !!set {a}\n", "shop.yaml:5: a set is not JSON", id="set"),
        pytest.param(
            HEADER + "events: &loop [*loop]\n",
            "shop.yaml:5: a value that contains itself is not JSON",
            id="cycle",
        ),
        pytest.param(
            HEADER + "description: a\x00b\n",
            "shop.yaml:5: not valid YAML: character U+0000 cannot be in a YAML file",
            id="control-character",
        ),
    ],
)
def test_a_bad_file_is_refused_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(DocumentError) as refused:
        load(text, "shop.yaml")
    assert str(refused.value).startswith(message), str(refused.value)


def test_what_dump_writes_load_reads_back() -> None:
    written = dump([definition.DOCUMENT, Document("Other", "cid", "", {})])
    assert load(written) == [definition.DOCUMENT, Document("Other", "cid", "", {})]
    assert (
        written.index("events:")
        < written.index("stitching_keys:")
        < written.index("personalizations:")
    )


def test_a_value_repeated_by_an_alias_is_read_once_and_kept() -> None:
    filters = "filters: &f [{field: td_path, regex: a}]"
    text = HEADER + f"events:\n  - {{name: a, {filters}}}\n  - {{name: b, filters: *f}}\n"
    [read] = load(text)
    assert read.items["events"][1]["filters"] == [{"field": "td_path", "regex": "a"}]


def test_a_list_attributes_aggregations_carry_their_sensitivity() -> None:
    text = HEADER + (
        "attributes:\n  - name: seen\n    type: LIST\n    list:\n      aggregations:\n"
        "        - {name: p, field: f, sensitivity: SENSITIVE}\n"
    )
    [read] = load(text)
    assert read.items["attributes"][0]["list"]["aggregations"][0]["sensitivity"] == "SENSITIVE"

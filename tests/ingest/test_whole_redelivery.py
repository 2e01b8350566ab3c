"""A calendar re-delivered whole: unchanged rows keep the lineage of their first delivery, so
the feature build is not sent back to the first promotion by every daily re-delivery."""

from __future__ import annotations

from ingest_helpers import assert_reconciles, deliver, ingest

from liftline.warehouse import read_frame

HEADER = "promo_id,start_date,end_date,discount_pct,sku,category,store_id,region,promo_type\n"
FIRST = (HEADER
         + "P1,2024-01-05,2024-01-18,10,0100,,,,display\n"
         + "P2,2024-02-01,2024-02-07,,,snacks,ST-1,,flyer\n")


def _lineage(engine) -> dict[str, tuple[str, float, str]]:
    rows = read_frame(engine, "SELECT promo_id, _file_sha256 AS sha, discount_pct, sku "
                              "FROM clean_promotions")
    return {r.promo_id: (r.sha, r.discount_pct, r.sku) for r in rows.itertuples()}


def test_only_new_and_changed_rows_take_the_new_delivery(home, engine):
    deliver(home, "promotions", "calendar_1.csv", FIRST, age=200)
    ingest(home, engine, "promotions")
    first = _lineage(engine)
    # The next day's calendar: P1 unchanged, P2 now with a discount, P3 new; P4 differs from
    # P1 only in an id-like text ("100" is not "0100").
    second = (FIRST.replace("2024-02-07,,", "2024-02-07,15,")
              + "P3,2024-03-01,2024-03-07,20,SKU-9,,,,display\n"
              + "P4,2024-01-05,2024-01-18,10,100,,,,display\n")
    deliver(home, "promotions", "calendar_2.csv", second, age=100)
    result = ingest(home, engine, "promotions")
    now = _lineage(engine)
    assert now["P1"] == first["P1"]  # unchanged: still the first delivery's row
    assert now["P2"][0] != first["P2"][0] and now["P2"][1] == 15.0  # the change is applied
    assert now["P3"][0] == now["P2"][0] and now["P4"][2] == "100"
    # Every row of the file still counts as loaded.
    assert [f.rows_loaded for f in result.files] == [4]
    assert_reconciles(engine)

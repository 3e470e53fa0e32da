"""Rewrite dmzbench/cli/listing_snapshot.json: what `dmzbench ls` shows of dmzbench's own models, tasks and data sets, so
the first `ls` after an install imports nothing (dmzbench/cli/listing.py). Run it after editing a model, task, data set
or the core; tests/test_listing.py fails while it is stale."""

from dmzbench.cli.listing import write_snapshot

if __name__ == "__main__":
    print(f"wrote {write_snapshot()}")

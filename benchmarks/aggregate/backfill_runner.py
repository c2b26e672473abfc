"""One backfill of every job, run by `benchmarks.aggregate.backfill_ab` in the tree it measures.

Reads {"url", "first", "end"} as JSON on stdin and prints benchmarks.backfill.run's result as
its last line. It imports whichever `benchmarks` and `stats_platform` come first on PYTHONPATH.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime

from benchmarks import backfill

if __name__ == "__main__":
    job = json.loads(sys.stdin.read())
    found = backfill.run(
        job["url"], datetime.fromisoformat(job["first"]), datetime.fromisoformat(job["end"])
    )
    print(json.dumps(found))

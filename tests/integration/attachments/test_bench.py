"""``bench.uploads`` (part of ``make bench``) against the session's stack: a file through the
presigned POST and back, the report it prints. Its figures are printed, never asserted."""

from __future__ import annotations

import asyncio

from bench import uploads


def test_the_upload_benchmark_uploads_downloads_and_reports(stack):
    results = asyncio.run(uploads.measure(stack.url, uploads.MIB, runs=2))
    assert [r.identical for r in results] == [True, True]
    assert all(r.size == uploads.MIB for r in results)
    text = uploads.report(results)
    assert text.startswith("Local stack uploads: 1 MiB through the presigned POST")
    assert "best: upload " in text and " MB/s" in text

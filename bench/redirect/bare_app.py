"""The Python ceiling: a bare granian RSGI app answering the same 301, no routing table, no hits.

`bench/redirect/run.py` measures it beside the data plane so the table shows what any Python
server can reach on the machine at hand."""

from __future__ import annotations

from typing import Any

TARGET = "https://bench-new.example"


class BareRedirect:
    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        query = scope.query_string
        location = f"{TARGET}{scope.path}?{query}" if query else f"{TARGET}{scope.path}"
        proto.response_empty(301, [("location", location)])


def app() -> BareRedirect:
    return BareRedirect()

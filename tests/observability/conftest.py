"""Scraping `/metrics` as Prometheus would, and reading the answer with Prometheus' own parser
(prometheus_client), so the text format is checked by a real reader, not by our writer."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

Scraped = dict[str, list[Sample]]  # family name -> its samples


async def scrape(client: httpx.AsyncClient, **headers: str) -> Scraped:
    answer = await client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(answer.text)


def parse(text: str) -> Scraped:
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def value(scraped: Scraped, sample: str, **labels: str) -> float | None:
    """The value of the sample of this name whose labels include these (None: no such)."""
    found = [
        s.value
        for samples in scraped.values()
        for s in samples
        if s.name == sample and labels.items() <= s.labels.items()
    ]
    assert len(found) <= 1, f"{sample} {labels} matches {len(found)} samples"
    return found[0] if found else None

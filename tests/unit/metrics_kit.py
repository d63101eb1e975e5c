"""Scraping fedcore's metrics the way Prometheus does: over HTTP, parsed by prometheus-client's own parser."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


class Scrape:
    """One scrape of ``/metrics``: every sample by name and labels."""

    def __init__(self, text: str) -> None:
        self.samples: list[tuple[str, dict[str, str], float]] = [
            (s.name, dict(s.labels), s.value) for family in text_string_to_metric_families(text) for s in family.samples
        ]

    @classmethod
    def of(cls, base_url: str) -> Scrape:
        """Scrape ``base_url/metrics``."""
        response = httpx.get(f"{base_url}/metrics", timeout=5.0)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        return cls(response.text)

    def value(self, name: str, **labels: str) -> float | None:
        """The value of the sample with exactly these labels, or None when there is none."""
        found = [v for n, ls, v in self.samples if n == name and ls == labels]
        assert len(found) <= 1, (name, labels, found)
        return found[0] if found else None

    def series(self, name: str) -> list[dict[str, str]]:
        """The label sets of every sample named ``name``."""
        return [ls for n, ls, _ in self.samples if n == name]

    def names(self) -> set[str]:
        """Every sample name."""
        return {n for n, _, _ in self.samples}

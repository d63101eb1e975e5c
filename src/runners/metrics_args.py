"""The metrics server's command-line options, kept apart from :mod:`runners.metrics` so that building the
``fedcore`` parser does not import prometheus-client (every command's ``--help`` stays fast)."""

from __future__ import annotations

import argparse


def add_metrics_arguments(parser: argparse.ArgumentParser) -> None:
    """``--metrics-port`` and ``--metrics-address`` on a command's parser."""
    group = parser.add_argument_group("metrics and health")
    group.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                       help="serve /metrics, /healthz and /readyz on this port (0: any free port); off by default")
    group.add_argument("--metrics-address", default="0.0.0.0", metavar="ADDRESS",
                       help="address the metrics server listens on (default: every IPv4 interface)")

"""Contract suites for fedcore's ports: one class per port, bound to every implementation by a world fixture."""

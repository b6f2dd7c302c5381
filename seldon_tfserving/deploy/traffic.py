"""How a deployment splits requests: traffic shares, the shadow, and one transport.

The webhook's checkTraffic and transport rules (seldon-core v1.18 seldondeployment_webhook.go).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from seldon_tfserving.deploy.findings import Finding


def _graph_nodes(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield node
    for child in node.get("children") or ():
        yield from _graph_nodes(child)


def check_transports(spec: Mapping[str, Any], predictors: list[Any]) -> list[Finding]:
    found = sorted(
        {
            str((node.get("endpoint") or {}).get("type"))
            for predictor in predictors
            for node in _graph_nodes(predictor.get("graph") or {})
            if (node.get("endpoint") or {}).get("type")
        }
    )
    if len(found) > 1:
        return [
            Finding(
                "spec",
                "Multiple endpoint.types found - can only have 1 type in graph",
                "remove the graph's endpoint.type values and set spec.transport",
            )
        ]
    transport = spec.get("transport")
    if found and transport and found[0].lower() != transport:
        return [
            Finding(
                "spec.transport",
                f"Mixed transport types found: spec.transport {transport!r} but endpoint.type "
                f"{found[0]!r} in the graph",
                "remove graph endpoint.types if transport set at deployment level",
            )
        ]
    return []


def check_traffic(predictors: list[Any]) -> list[Finding]:
    findings = []
    total = 0
    shadows = 0
    for index, predictor in enumerate(predictors):
        traffic = int(predictor.get("traffic") or 0)
        if predictor.get("shadow"):
            shadows += 1
            if shadows > 1:
                findings.append(
                    Finding(
                        f"spec.predictors[{index}].shadow",
                        "Multiple shadows are not allowed",
                        "keep one shadow predictor",
                    )
                )
            if not 0 <= traffic <= 100:
                findings.append(
                    Finding(
                        f"spec.predictors[{index}].traffic",
                        "shadow traffic is illegal, the traffic number should be between [0, 100]",
                        "set traffic between 0 and 100 (or leave it out)",
                    )
                )
        else:
            total += traffic
    live = len(predictors) - shadows
    if len(predictors) == 1 and predictors[0].get("shadow"):
        findings.append(
            Finding(
                "spec.predictors[0].shadow",
                "Shadow can not exist as only predictor",
                "add the live predictor the shadow copies, or remove shadow: true",
            )
        )
    if total != 100 and live > 1:
        shares = ", ".join(
            f"{p.get('name')}={int(p.get('traffic') or 0)}"
            for p in predictors
            if not p.get("shadow")
        )
        findings.append(
            Finding(
                "spec.predictors",
                f"Traffic must sum to 100 for multiple predictors (non-shadow: {shares}; "
                f"sum {total})",
                "set each non-shadow predictor's traffic so that they sum to 100",
            )
        )
    if 0 < total < 100 and len(predictors) == 1:
        findings.append(
            Finding(
                "spec.predictors[0].traffic",
                "Traffic must sum be 100 for a single predictor when set",
                "set traffic to 100 or leave it out",
            )
        )
    return findings

"""Dash callback requests as a browser makes them (to test a callback over real HTTP)."""

from __future__ import annotations

from typing import Any

from layouts.ids import DispatchID


def send_request(output: str, incident_id: str, unit_id: str, key: str, body: str = "请立即前往") -> dict[str, Any]:
    """The POST a browser makes when the officer clicks "send" (Dash's callback wire format).

    ``output`` is the send callback's key in ``/_dash-dependencies`` (Dash suffixes
    duplicated outputs with a hash, so it is read, not spelled).
    """
    outputs = []
    for part in output.strip(".").split("..."):
        component, prop = part.split(".", 1)
        outputs.append({"id": component, "property": prop})
    return {
        "output": output,
        "outputs": outputs,
        "inputs": [{"id": DispatchID.SEND, "property": "n_clicks", "value": 1}],
        "state": [{"id": DispatchID.INCIDENT, "property": "data", "value": incident_id},
                  {"id": DispatchID.UNITS, "property": "value", "value": [unit_id]},
                  {"id": DispatchID.TEXT, "property": "value", "value": body},
                  {"id": DispatchID.KEY, "property": "data", "value": key},
                  {"id": DispatchID.REPLACES, "property": "data", "value": None}],
        "changedPropIds": [f"{DispatchID.SEND}.n_clicks"],
    }


def send_output(dependencies: list[dict[str, Any]]) -> str:
    """The send callback's output key, from Dash's dependency list."""
    return str(next(d["output"] for d in dependencies
                    if d["output"].startswith(f"..{DispatchID.MESSAGE}.children@")
                    and any(i["id"] == DispatchID.SEND for i in d["inputs"])))


def callback_request(dependencies: list[dict[str, Any]], trigger: tuple[str, str], value: object,
                     states: dict[tuple[str, str], object] | None = None) -> dict[str, Any]:
    """The POST the Dash renderer makes when ``trigger`` changes to ``value`` (the server callback it feeds)."""
    component, prop = trigger
    dep = next(d for d in dependencies if d.get("clientside_function") is None
               and any(i["id"] == component and i["property"] == prop for i in d["inputs"]))
    outputs = []
    for part in dep["output"].strip(".").split("..."):
        out_id, out_prop = part.split(".", 1)
        outputs.append({"id": out_id, "property": out_prop.split("@")[0]})
    given = states or {}
    return {
        "output": dep["output"],
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": [{**i, "value": value if (i["id"], i["property"]) == trigger else given.get((i["id"], i["property"]))}
                   for i in dep["inputs"]],
        "state": [{**s, "value": given.get((s["id"], s["property"]))} for s in dep.get("state", [])],
        "changedPropIds": [f"{component}.{prop}"],
    }

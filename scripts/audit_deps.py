"""Supply-chain check: fail on any known vulnerability in the pinned dependencies.

1. ``pip-audit`` over ``constraints.txt`` (every pin, transitive ones included).
2. For pins pip-audit could not look up (its per-version endpoint or OSV may
   be unreachable from a closed network), the project endpoint of the index pip
   is configured with still lists the advisories of the *latest* release: a pin
   equal to the latest release is checked that way.
3. Whatever neither could check is listed by name, so a reader sees exactly
   what was and was not verified. Exit 1 on any known vulnerability, else 0.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PINS = ROOT / "constraints.txt"


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def pins() -> dict[str, str]:
    out = {}
    for line in PINS.read_text().splitlines():
        name, sep, version = line.split("#", 1)[0].strip().partition("==")  # a pin may say why after a "#"
        if sep:
            out[normalise(name)] = version
    return out


def pip_audit() -> list[dict]:
    done = subprocess.run([sys.executable, "-m", "pip_audit", "-r", str(PINS), "--no-deps", "--disable-pip",
                           "--progress-spinner", "off", "-f", "json"], capture_output=True, text=True)
    if done.returncode not in (0, 1):  # 1: vulnerabilities found (reported below)
        raise SystemExit(f"pip-audit failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)["dependencies"]


def json_api() -> str | None:
    """Where the index pip is configured with serves its JSON API (``<root>/pypi/<name>/json``, as PyPI's does).

    The index comes from pip's own configuration (``pip config``: a file or ``PIP_INDEX_URL``), else pip's
    default: this project names no registry. ``None`` for an index that is not served over HTTP.
    """
    listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    configured = [line.split("=", 1)[1].strip().strip("'\"") for line in listed.splitlines()
                  if line.split("=", 1)[0].endswith(".index-url")]
    if configured:
        index = configured[-1]
    else:
        from pip._internal.models.index import PyPI  # pip's own default index

        index = PyPI.simple_url
    if not index.startswith(("https://", "http://")):
        return None
    return index.rstrip("/").removesuffix("/simple") + "/pypi"


def latest_release_advisories(api: str | None, name: str, version: str) -> list[str] | None:
    """Advisory ids for ``name==version`` if it is the latest release; ``None`` if that cannot be told."""
    if api is None:
        return None
    try:
        with urllib.request.urlopen(f"{api}/{name}/json", timeout=20) as response:
            project = json.load(response)
    except (OSError, ValueError):
        return None
    if project["info"]["version"] != version:
        return None
    return [v["id"] for v in project.get("vulnerabilities", []) if not v.get("withdrawn")]


def main() -> int:
    pinned = pins()
    vulnerable: list[str] = []
    audited, fallback, unchecked = 0, 0, []
    api = json_api()
    for dep in pip_audit():
        name = normalise(dep["name"])
        if "skip_reason" not in dep:
            audited += 1
            vulnerable += [f"{name}=={dep['version']}: {v['id']}" for v in dep.get("vulns", [])]
            continue
        advisories = latest_release_advisories(api, name, pinned.get(name, ""))
        if advisories is None:
            unchecked.append(f"{name}=={pinned.get(name, '?')}")
        else:
            fallback += 1
            vulnerable += [f"{name}=={pinned[name]}: {a}" for a in advisories]
    print(f"dependency audit of {len(pinned)} pins: {audited} by pip-audit, {fallback} by PyPI's advisories "
          f"for their latest release, {len(unchecked)} could not be checked from this network")
    if unchecked:
        print("  not checked: " + ", ".join(unchecked))
    for line in vulnerable:
        print(f"  KNOWN VULNERABILITY {line}")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())

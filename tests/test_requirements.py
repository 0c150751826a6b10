"""The installed packages satisfy requirements.txt: a version below a lower bound (or outside a range,
such as ipykernel 7, which hangs executions) fails here with the fix, not later as a strange error.

Reads the installed versions with importlib.metadata and parses requirements.txt with ``packaging``.
"""

import importlib.metadata
from pathlib import Path

import pytest
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements.txt"


def parse_requirements(text: str) -> list[Requirement]:
    """The requirements of a requirements file, without comments, options (``-e .``, ``-r``) and
    those whose environment marker does not apply here. ``ValueError`` names a line that is not one."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            raise ValueError(f"requirements.txt line {number}: {line!r} is not a requirement ({error})") from None
        if requirement.marker is None or requirement.marker.evaluate():
            found.append(requirement)
    return found


def lower_bound(requirement: Requirement) -> Version | None:
    """The smallest version ``requirement`` allows by its ``>=``, ``>``, ``==`` or ``~=`` (None if none)."""
    bounds = [Version(s.version) for s in requirement.specifier if s.operator in (">=", ">", "==", "~=")]
    return max(bounds) if bounds else None


REQUIRED = parse_requirements(REQUIREMENTS.read_text())


def test_requirements_file_is_parsed():
    names = {r.name.lower() for r in REQUIRED}
    assert {"torch", "papermill", "kagglehub", "nbval", "ipykernel"} <= names
    assert next(str(r.specifier) for r in REQUIRED if r.name == "nbval") == "==0.11.0"
    assert lower_bound(Requirement("a>=2.4,<3")) == Version("2.4") and lower_bound(Requirement("a<3")) is None
    assert parse_requirements("# c\n-e .\nx>=1 # why\ny; python_version < '3'\n") == [Requirement("x>=1")]


@pytest.mark.parametrize("requirement", REQUIRED, ids=str)
def test_installed_version_satisfies_requirements_txt(requirement):
    try:
        installed = importlib.metadata.version(requirement.name)
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"{requirement.name} is not installed; requirements.txt asks for {requirement}: "
                    f"run `pip install -r requirements.txt`")
    version = Version(installed)
    bound = lower_bound(requirement)
    assert bound is None or version >= bound, (
        f"{requirement.name} {installed} is installed, below requirements.txt's lower bound {bound} "
        f"({requirement}); the code needs it (see the comment in requirements.txt): "
        f"run `pip install -U \"{requirement}\"`")
    assert requirement.specifier.contains(version, prereleases=True), (
        f"{requirement.name} {installed} is installed, outside requirements.txt's range {requirement.specifier} "
        f"(see the comment in requirements.txt): run `pip install \"{requirement}\"`")

"""The wheelhouse installs the facade in a clean venv, and every distribution is publishable.

The wheelhouse is built once for the module with ``tools/build_wheelhouse.py``
(what ``hatch run release:wheels`` runs). The install test is the path a user
takes before the packages are on the index: a fresh venv, then
``pip install --find-links <wheelhouse> emcache``, which takes attrs and mmh3
from the package index and every emcache distribution from the wheelhouse.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest

from build_wheelhouse import COMPILE_ENV, distributions, outside_hatch_environment
from emcache_testing import MemcachedNode

ROOT = Path(__file__).resolve().parents[2]
LICENSE = (ROOT / "LICENSE").read_text()
# Sans-IO packages: no event loop of their own, so no "Framework :: AsyncIO".
SANS_IO = {"emcache-protocol", "emcache-hashing"}
# The facade's dependencies that are ours, all of which must come from the wheelhouse.
FACADE_CLOSURE = {
    "emcache",
    "emcache-auth",
    "emcache-cluster",
    "emcache-hashing",
    "emcache-pool",
    "emcache-protocol",
}
SMOKE = """\
import asyncio
import sys

import emcache


async def main(host: str, port: int) -> None:
    client = await emcache.create_client([emcache.MemcachedHostAddress(host, port)])
    try:
        await client.set(b"wheelhouse", b"installed", exptime=60)
        item = await client.get(b"wheelhouse")
    finally:
        await client.close()
    value = None if item is None else item.value
    print(f"emcache {emcache.__version__} from {emcache.__file__}: get -> {value!r}")


asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""
PACKAGES = [package.name for package in distributions()]


@pytest.fixture(scope="module", name="wheelhouse")
def _wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every distribution's wheel and sdist, built into a fresh folder."""
    if shutil.which("hatch") is None:
        pytest.skip("hatch is not on PATH; the wheelhouse is built with `hatch build`")
    out = tmp_path_factory.mktemp("wheelhouse")
    command = [sys.executable, str(ROOT / "tools" / "build_wheelhouse.py"), str(out)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return out


def version_of(package: str) -> str:
    about = next((ROOT / "packages" / package / "src").glob("*/__about__.py")).read_text()
    match = re.search(r'__version__ = "([^"]+)"', about)
    assert match is not None, package
    return match[1]


def wheel_of(wheelhouse: Path, package: str) -> Path:
    stem = package.replace("-", "_")
    return wheelhouse / f"{stem}-{version_of(package)}-py3-none-any.whl"


def metadata_of(wheel: Path) -> tuple[Message, zipfile.ZipFile]:
    archive = zipfile.ZipFile(wheel)
    dist_info = wheel.name.split("-py3")[0] + ".dist-info"
    text = archive.read(f"{dist_info}/METADATA").decode()
    return Parser().parsestr(text), archive


def mkdocs_setting(name: str) -> str | None:
    match = re.search(rf"^{name}:\s*(\S+)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)
    return None if match is None else match[1]


def test_wheelhouse_holds_a_wheel_and_an_sdist_of_every_distribution(wheelhouse: Path) -> None:
    """Each package of packages/ is in the wheelhouse once, at its current version."""
    expected = set()
    for package in PACKAGES:
        expected |= {wheel_of(wheelhouse, package).name}
        expected |= {f"{package.replace('-', '_')}-{version_of(package)}.tar.gz"}
    assert {p.name for p in wheelhouse.iterdir()} == expected


@pytest.mark.parametrize("package", PACKAGES)
def test_wheel_metadata_names_license_urls_and_classifiers(wheelhouse: Path, package: str) -> None:
    """The wheel carries the MIT license file, the project URLs and honest classifiers."""
    metadata, archive = metadata_of(wheel_of(wheelhouse, package))
    dist_info = wheel_of(wheelhouse, package).name.split("-py3")[0] + ".dist-info"

    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert archive.read(f"{dist_info}/licenses/LICENSE").decode() == LICENSE
    assert (ROOT / "packages" / package / "LICENSE").read_text() == LICENSE

    urls = dict(entry.split(", ", 1) for entry in metadata.get_all("Project-URL") or [])
    assert {"Homepage", "Documentation", "Repository", "Changelog"} <= set(urls)
    assert all(url.startswith("https://") for url in urls.values())
    assert urls["Repository"] == mkdocs_setting("repo_url")
    site_url = mkdocs_setting("site_url")
    if site_url is not None:
        assert urls["Documentation"].rstrip("/") == site_url.rstrip("/")
    assert urls["Changelog"].endswith(f"/packages/{package}/CHANGELOG.md")
    assert (ROOT / "packages" / package / "CHANGELOG.md").is_file()

    classifiers = metadata.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers
    assert ("Framework :: AsyncIO" in classifiers) == (package not in SANS_IO)
    versions = [c.rsplit(" :: ", 1)[1] for c in classifiers if re.search(r":: 3\.\d+$", c)]
    assert versions[0] == "3.11"
    assert metadata["Requires-Python"] == ">=3.11"
    # License-Expression replaces the license classifiers (PEP 639); PyPI refuses both.
    assert not [c for c in classifiers if c.startswith("License ::")]
    assert metadata["Description-Content-Type"] == "text/markdown"


@pytest.mark.parametrize("package", PACKAGES)
def test_sdist_carries_the_license(wheelhouse: Path, package: str) -> None:
    """The source distribution holds the same LICENSE file as the wheel."""
    name = f"{package.replace('-', '_')}-{version_of(package)}"
    with tarfile.open(wheelhouse / f"{name}.tar.gz") as sdist:
        member = sdist.extractfile(f"{name}/LICENSE")
        assert member is not None
        assert member.read().decode() == LICENSE


def test_facade_readme_is_a_package_page_with_a_code_sample(wheelhouse: Path) -> None:
    """The facade's long description says what it is, how to install it and shows code."""
    metadata, _ = metadata_of(wheel_of(wheelhouse, "emcache"))
    page = metadata.get_payload()
    assert isinstance(page, str)
    assert len(page.splitlines()) >= 40
    assert "```python" in page
    assert "pip install emcache" in page
    assert "Python 3.11" in page


def test_facade_installs_from_the_wheelhouse_and_talks_to_a_node(
    wheelhouse: Path, tmp_path: Path, memcached_node: MemcachedNode
) -> None:
    """A fresh venv gets the facade from the wheelhouse with pip and sets and gets a key."""
    env = outside_hatch_environment()
    env.pop("PYTHONPATH", None)
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True, env=env)
    python = str(tmp_path / "venv" / "bin" / "python")
    report = tmp_path / "pip-report.json"
    pip = [python, "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
    install = [*pip, "--find-links", str(wheelhouse), "--report", str(report), "emcache"]
    subprocess.run(install, check=True, env=env, cwd=tmp_path)

    installed = {
        item["metadata"]["name"]: item["download_info"]["url"]
        for item in json.loads(report.read_text())["install"]
    }
    ours = {name: url for name, url in installed.items() if name.startswith("emcache")}
    assert set(ours) == FACADE_CLOSURE
    assert all(url.startswith(wheelhouse.as_uri() + "/") for url in ours.values()), ours
    assert {"attrs", "mmh3"} <= set(installed)

    (tmp_path / "smoke.py").write_text(SMOKE)
    host, port = memcached_node.address
    result = subprocess.run(
        [python, "smoke.py", host, str(port)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    print(result.stdout, end="")
    assert result.returncode == 0, result.stderr
    version = version_of("emcache")
    venv_site = str(tmp_path / "venv" / "lib")
    assert result.stdout.startswith(f"emcache {version} from {venv_site}")
    assert result.stdout.endswith(": get -> b'installed'\n")


def test_builds_are_pure_unless_compiled_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's hook switch is dropped; --compiled sets it (and the clean-up after)."""
    monkeypatch.setenv("HATCH_BUILD_HOOK_ENABLE_MYPYC", "1")
    assert not any(name.startswith("HATCH_BUILD_HOOK") for name in outside_hatch_environment())
    compiled = outside_hatch_environment(compiled=True)
    assert COMPILE_ENV.items() <= compiled.items()

"""The public surface of emcache."""

import emcache


def test_all_names_are_exported() -> None:
    """Every name in __all__ is an attribute of the package, listed once."""
    for name in emcache.__all__:
        assert hasattr(emcache, name), name
    assert len(set(emcache.__all__)) == len(emcache.__all__)


def test_version_is_a_string() -> None:
    """The package exposes its version from __about__."""
    assert isinstance(emcache.__version__, str)
    assert emcache.__version__.count(".") == 2


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_version_succeeds_emcache_1x() -> None:
    """The facade is 2.0.0 or later, so installers prefer it to emcache 1.3.3."""
    assert _version(emcache.__version__) >= (2, 0, 0)
    assert _version(emcache.__version__) > _version("1.3.3")


def test_sub_packages_are_pinned_to_compatible_ranges() -> None:
    """Each sibling dependency is a >=X,<Y range that the sibling's own version satisfies."""
    import importlib
    import tomllib
    from pathlib import Path

    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    siblings = [d for d in dependencies if d.startswith("emcache-")]
    assert len(siblings) == 5
    for dependency in siblings:
        name, _, spec = dependency.partition(">=")
        low, _, high = spec.partition(",<")
        module = importlib.import_module(name.replace("-", "_"))
        assert _version(low) <= _version(module.__version__) < _version(high), dependency


def test_new_error_names_are_exported() -> None:
    """The errors that keep the 1.x contract are exported at the top level."""
    for name in ("CacheUnavailableError", "OperationTimeoutError", "ConnectionFailedError"):
        assert name in emcache.__all__


def test_cluster_managment_is_the_1x_spelling_of_cluster_management() -> None:
    """ClusterManagment, the 1.x name, is the very ClusterManagement class of emcache_cluster."""
    import emcache_cluster

    assert emcache.ClusterManagment is emcache.ClusterManagement
    assert emcache.ClusterManagement is emcache_cluster.ClusterManagement
    assert "ClusterManagment" not in emcache_cluster.__all__


def test_meta_and_herd_names_are_exported() -> None:
    """The meta results, herd control's result and their errors are public names."""
    names = (
        "FetchResult",
        "FetchWaitTimeoutError",
        "MetaCounter",
        "MetaItem",
        "MetaNotSupportedError",
        "MetaSetMode",
        "MetaStatus",
        "MetaWriteResult",
        "MultiKeyCommandError",
        "MultiKeyStorageError",
    )
    for name in names:
        assert name in emcache.__all__, name
    assert issubclass(emcache.MetaNotSupportedError, emcache.CommandError)
    assert issubclass(emcache.MultiKeyStorageError, emcache.StorageCommandError)
    assert issubclass(emcache.FetchWaitTimeoutError, TimeoutError)

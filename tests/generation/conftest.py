"""Fixtures and reporting for the generation room's tests."""

import os
import sys

import pytest


def pytest_terminal_summary(terminalreporter):
    """Say how many cases the property-based parser test really ran (for the issue's closing note)."""
    fuzz = sys.modules.get("tests.generation.test_protocol_fuzz")
    if fuzz is not None and fuzz.CASES:
        total = sum(fuzz.CASES.values())
        parts = ", ".join(f"{name}: {count:,}" for name, count in fuzz.CASES.items())
        terminalreporter.write_line(f"protocol fuzz: {total:,} generated answers parsed ({parts})")


@pytest.fixture(scope="session")
def runtime_image():
    from sandbox.image import ensure_runtime_image

    return ensure_runtime_image()


@pytest.fixture
def bundle(tmp_path, runtime_image):
    """Bundle an app's files with esbuild in the real runtime image, as a build does; assert it worked."""
    from sandbox.docker_driver import SANDBOX_UID, run_build

    def bundle(files: dict[str, str], folder=None) -> None:
        folder = folder or tmp_path
        src, out = folder / "src", folder / "out"
        for path, content in files.items():
            (src / path).parent.mkdir(parents=True, exist_ok=True)
            (src / path).write_text(content)
        out.mkdir()
        os.chown(out, SANDBOX_UID, SANDBOX_UID)  # the build step runs as the sandbox user
        result = run_build(image=runtime_image, src_dir=src, out_dir=out, build_id=0, owner_id=0, project_id=0)
        assert result.exit_code == 0, result.logs
        assert (out / "bundle.js").stat().st_size > 10_000

    return bundle

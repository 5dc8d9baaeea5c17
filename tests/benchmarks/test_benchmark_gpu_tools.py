"""The helpers that make the GPU check runnable on the device image: the requirement check that
runs before device time is spent, and the wheel trimming that keeps the carried wheels under the
64 MiB a call carries."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import check_requirements  # noqa: E402
import gpu_wheels  # noqa: E402


def test_problem_names_missing_and_out_of_range_packages():
    assert check_requirements.problem(Requirement("torch>=2.0")) is None
    assert check_requirements.problem(Requirement("no-such-package-llava>=1")) == "MISSING  no-such-package-llava>=1"
    why = check_requirements.problem(Requirement("torch>=99"))
    assert why is not None and why.startswith("VERSION  torch ") and why.endswith("(needs >=99)")


def test_requirements_read_pyproject_with_extras(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\ndependencies = ["torch>=2", "nothing-here; sys_platform == \'never\'"]\n'
        '[project.optional-dependencies]\nfp8 = ["torchao>=0.18"]\n'
    )
    names = [req.name for req in check_requirements.requirements(pyproject, ["fp8"])]
    assert names == ["torch", "torchao"]  # the marker that does not apply is dropped
    assert [req.name for req in check_requirements.requirements(pyproject, [])] == ["torch"]


def test_the_project_requirements_are_met_here():
    """The check passes where the suite runs, so on the device a failure means the device."""
    assert check_requirements.main(["--extras", "fp8"]) == 0


@pytest.fixture()
def fake_bitsandbytes_wheel(tmp_path):
    wheel = tmp_path / "bitsandbytes-0.0.1-py3-none-any.whl"
    files = {
        "bitsandbytes/__init__.py": b"VERSION = '0.0.1'\n",
        "bitsandbytes/libbitsandbytes_cpu.so": b"cpu",
        "bitsandbytes/libbitsandbytes_cuda118.so": b"cuda118",
        "bitsandbytes/libbitsandbytes_cuda130.so": b"cuda130",
        "bitsandbytes/libbitsandbytes_rocm64.so": b"rocm",
        "bitsandbytes-0.0.1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: bitsandbytes\nVersion: 0.0.1\n",
        "bitsandbytes-0.0.1.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + "bitsandbytes-0.0.1.dist-info/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("bitsandbytes-0.0.1.dist-info/RECORD", record)
    return wheel


def test_trim_wheel_keeps_the_device_libraries_and_installs(fake_bitsandbytes_wheel, tmp_path):
    dropped = gpu_wheels.trim_wheel(fake_bitsandbytes_wheel, gpu_wheels.unneeded_bitsandbytes_library)
    assert sorted(dropped) == ["bitsandbytes/libbitsandbytes_cuda118.so", "bitsandbytes/libbitsandbytes_rocm64.so"]
    with zipfile.ZipFile(fake_bitsandbytes_wheel) as archive:
        names = set(archive.namelist())
        record = archive.read("bitsandbytes-0.0.1.dist-info/RECORD").decode()
    assert "bitsandbytes/libbitsandbytes_cuda130.so" in names and "bitsandbytes/libbitsandbytes_cpu.so" in names
    assert not names & set(dropped)
    assert all(name not in record for name in dropped)  # RECORD lists only what is there
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target", str(target),
                    str(fake_bitsandbytes_wheel)], check=True, capture_output=True)
    assert sorted(p.name for p in (target / "bitsandbytes").glob("*.so")) == [
        "libbitsandbytes_cpu.so", "libbitsandbytes_cuda130.so"]

"""Where a recording's files live (`services.workdirs`): what is forgotten from the object
store never lies outside the data directory, nor is a whole folder of it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from replay.media.probe import MediaInput
from replay.services.workdirs import forget_shared, inside
from replay.settings import Settings
from replay.store.db import Recording

SHA256 = "0123456789abcdef" * 4


class Forgetting:
    """A `FileExchange` that only notes what it is asked to forget."""

    def __init__(self) -> None:
        self.forgotten: list[Path] = []

    async def share(self, path: Path, sha256: str | None = None) -> None:
        raise AssertionError("nothing is shared here")

    async def fetch(self, path: Path) -> bool:
        raise AssertionError("nothing is fetched here")

    async def original(self, recorded: Path, local: Path, sha256: str) -> Path:
        raise AssertionError("nothing is fetched here")

    async def readable_original(self, recorded: Path, local: Path, sha256: str, *,
                                expires: float) -> MediaInput:
        raise AssertionError("nothing is read here")

    async def forget(self, path: Path) -> None:
        self.forgotten.append(path)


def _recording(original: Path, sha256: str = SHA256) -> Recording:
    return Recording(1, "villes", "Plénière", sha256, original, "salle.mp4",
                     datetime(2026, 3, 3, 9, tzinfo=UTC), 60.0)


async def test_forgetting_a_recording_forgets_its_original_and_its_work_files(
        tmp_path: Path) -> None:
    settings, files = Settings(data_dir=tmp_path / "data"), Forgetting()
    await forget_shared(files, settings, _recording(Path("/anywhere") / f"{SHA256}.mp4"))
    assert files.forgotten == [settings.originals_dir / f"{SHA256}.mp4",
                               settings.work_dir / SHA256[:16]]


@pytest.mark.parametrize(("original", "sha256"), [
    pytest.param(Path("/srv/.."), SHA256, id="original-named-dotdot"),
    pytest.param(Path("/"), SHA256, id="original-without-name"),
    pytest.param(Path("/srv/a.mp4"), "../../../etc/passwd", id="digest-climbing-out"),
    pytest.param(Path("/srv/a.mp4"), "..", id="digest-dotdot"),
    pytest.param(Path("/srv/a.mp4"), "", id="digest-empty"),
])
async def test_a_path_outside_its_folder_of_the_data_dir_is_refused_and_nothing_forgotten(
        tmp_path: Path, original: Path, sha256: str) -> None:
    settings, files = Settings(data_dir=tmp_path / "data"), Forgetting()
    with pytest.raises(ValueError, match="is not inside"):
        await forget_shared(files, settings, _recording(original, sha256))
    assert files.forgotten == []


@pytest.mark.parametrize("name", ["a.mp4", "sub/a.mp4", "./a.mp4"])
def test_inside_lets_what_is_below_pass(name: str) -> None:
    assert inside(Path("/data/originals"), Path("/data/originals") / name) == Path(
        "/data/originals") / name


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "a/../..", "/etc/passwd"])
def test_inside_refuses_the_folder_itself_and_what_climbs_out(name: str) -> None:
    with pytest.raises(ValueError, match="is not inside"):
        inside(Path("/data/originals"), Path("/data/originals") / name)

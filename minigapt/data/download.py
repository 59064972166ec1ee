"""Fetch the public datasets from their GitHub repositories, checked against a manifest.

`download("nottingham")` fetches the repository archive (a zip of the default branch), keeps
only the folder the parser reads plus the top-level licence and readme, and leaves them in
~/.cache/minigapt/data/nottingham/ laid out exactly as the repository publishes them.

GitHub builds branch archives on the fly, so the zip's bytes are not stable; the *extracted
files* are. manifests.json records, per dataset, the number of files in that folder and one
sha256 over the sorted (relative path, sha256 of the file) list, computed from a verified copy.
A mismatch means upstream changed (or the download was damaged): one-line error, nothing kept.

Extraction goes to a temporary folder next to the destination and is renamed into place only
after it verifies, so an interrupted download never leaves a half dataset that looks present.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import MinigaptError
from .cache import cache_root

MANIFESTS = Path(__file__).with_name("manifests.json")
TIMEOUT_S = 30


class DataNotFound(MinigaptError):
    """A dataset is neither in any folder we looked in nor downloadable right now (offline,
    or the download does not match its manifest): load_frames falls back on this."""


@dataclass(frozen=True)
class RemoteDataset:
    name: str
    repo: str  # owner/name on GitHub
    folder: str  # the folder inside the repository that the parser reads
    patterns: tuple[str, ...]  # the files of that folder we keep (relative to the repo root)

    @property
    def urls(self) -> list[str]:
        # the API's zipball follows the default branch whatever it is called; the archive
        # URL is the same thing by another route, tried if the API refuses (rate limit)
        return [f"https://api.github.com/repos/{self.repo}/zipball",
                f"https://github.com/{self.repo}/archive/HEAD.zip"]

    @property
    def page(self) -> str:
        return f"https://github.com/{self.repo}"


# Only the files the parsers read are kept (OpenEWLD also ships .csv/.txt exports, POP909
# audio-aligned beats/chords and alternative MIDI versions): ~3x less disk, same songs.
REMOTE = {
    "nottingham": RemoteDataset("nottingham", "jukedeck/nottingham-dataset", "ABC_cleaned",
                                ("ABC_cleaned/*.abc",)),
    "openewld": RemoteDataset("openewld", "00sapo/OpenEWLD", "dataset", ("dataset/*/*/*.mxl",)),
    "pop909": RemoteDataset("pop909", "music-x-lab/POP909-Dataset", "POP909",
                            ("POP909/*/*.mid", "POP909/*/beat_midi.txt",
                             "POP909/*/chord_midi.txt", "POP909/*/key_audio.txt")),
}


def download_root() -> Path:
    """Downloads land in ~/.cache/minigapt/data/<name>/ (this is the root)."""
    return cache_root() / "data"


def download_dir(name: str) -> Path:
    return download_root() / name


# --- manifests ---------------------------------------------------------------------------
def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _kept(relpath: PurePosixPath, patterns) -> bool:
    # relative patterns match from the right, so each names its full depth ("POP909/*/*.mid")
    return any(relpath.match(p) and len(relpath.parts) == len(PurePosixPath(p).parts)
               for p in patterns)


def folder_manifest(dataset_dir: str | Path, folder: str, patterns: tuple[str, ...]) -> dict:
    """{"folder", "patterns", "files", "sha256"} of the files under dataset_dir/folder that
    match `patterns`: their count and a sha256 over the sorted lines
    "relative/path<TAB>sha256-of-file" (paths relative to dataset_dir)."""
    root = Path(dataset_dir)
    rel = [p.relative_to(root) for p in (root / folder).rglob("*") if p.is_file()]
    keep = [r for r in rel if _kept(PurePosixPath(r.as_posix()), patterns)]
    listing = sorted(f"{r.as_posix()}\t{file_sha256(root / r)}\n" for r in keep)
    digest = hashlib.sha256("".join(listing).encode()).hexdigest()
    return {"folder": folder, "patterns": list(patterns), "files": len(keep), "sha256": digest}


def load_manifests() -> dict[str, dict]:
    return json.loads(MANIFESTS.read_text())


def verify(name: str, folder: str | Path, manifest: dict | None = None) -> bool:
    """True when the dataset folder `folder` (e.g. /data/nottingham) holds exactly the files
    of the manifest (the shipped one for `name` unless one is given)."""
    expected = manifest or load_manifests().get(name)
    if expected is None:
        raise MinigaptError(f"no manifest for dataset {name!r}")
    if not (Path(folder) / expected["folder"]).is_dir():
        return False
    got = folder_manifest(folder, expected["folder"], tuple(expected["patterns"]))
    return got["files"] == expected["files"] and got["sha256"] == expected["sha256"]


# --- download ----------------------------------------------------------------------------
def _offline(name: str, dest: Path) -> DataNotFound:
    return DataNotFound(f"cannot download {name} (offline?): put the data in {dest} or pass "
                        f"--data-dir (source: {REMOTE[name].page})")


def _fetch(remote: RemoteDataset, out: Path, dest: Path, progress: bool) -> None:
    """Stream the repository archive into `out`; DataNotFound (one line) if impossible."""
    if os.environ.get("MINIGAPT_OFFLINE"):
        raise _offline(remote.name, dest)
    last = ""
    for url in remote.urls:
        try:
            req = urllib.request.Request(url, headers={"User-Agent": "minigapt"})
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp, open(out, "wb") as f:
                total = int(resp.headers.get("Content-Length") or 0) or None
                from tqdm.auto import tqdm

                with tqdm(total=total, unit="B", unit_scale=True, disable=not progress,
                          desc=f"downloading {remote.name}") as bar:
                    for block in iter(lambda: resp.read(1 << 16), b""):
                        f.write(block)
                        bar.update(len(block))
            return
        except urllib.error.HTTPError as exc:  # the server answered: try the other route
            last = f"HTTP {exc.code} from {url}"
        except (urllib.error.URLError, socket.timeout, ConnectionError) as exc:
            raise _offline(remote.name, dest) from exc
        except OSError as exc:  # e.g. the disk is full
            raise MinigaptError(f"cannot download {remote.name}: {exc}") from exc
    raise DataNotFound(f"cannot download {remote.name}: {last}; get it from {remote.page} "
                       f"and put it in {dest} or pass --data-dir")


def _extract(remote: RemoteDataset, archive: Path, out: Path, patterns) -> None:
    """Copy the files matching `patterns` and the top-level LICENSE*/README* into `out`,
    dropping the archive's own top folder ("owner-repo-sha/")."""
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                parts = PurePosixPath(info.filename).parts[1:]
                if info.is_dir() or not parts or ".." in parts:
                    continue
                top_file = len(parts) == 1 and parts[0].upper().startswith(("LICENSE", "README"))
                if not top_file and not _kept(PurePosixPath(*parts), patterns):
                    continue
                target = out.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    except zipfile.BadZipFile as exc:
        raise DataNotFound(f"the {remote.name} download is not a valid zip ({exc}); try again") from exc


def download(name: str, root: str | Path | None = None, *, progress: bool = True,
             manifest: dict | None = None) -> Path:
    """Make sure dataset `name` is in root/<name> (root: ~/.cache/minigapt/data) and return
    that folder. Skips the download when a verified copy is there already."""
    if name not in REMOTE:
        raise MinigaptError(f"no download for {name!r}; downloadable: {', '.join(REMOTE)}")
    remote = REMOTE[name]
    manifest = manifest or load_manifests()[name]
    root = Path(root).expanduser() if root is not None else download_root()
    dest = root / name
    if dest.is_dir() and verify(name, dest, manifest):
        return dest
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=root, prefix=f".{name}-download-"))
    try:
        archive = work / "archive.zip"
        _fetch(remote, archive, dest, progress)
        staged = work / name
        staged.mkdir()
        _extract(remote, archive, staged, tuple(manifest["patterns"]))
        if not verify(name, staged, manifest):
            got = {"files": 0}
            if (staged / manifest["folder"]).is_dir():
                got = folder_manifest(staged, manifest["folder"], tuple(manifest["patterns"]))
            raise DataNotFound(
                f"downloaded {name} does not match its manifest ({got['files']} files, expected "
                f"{manifest['files']}; sha256 differs): upstream changed? get it from "
                f"{remote.page} by hand and pass --data-dir")
        if dest.exists():  # an old, unverified copy: move it aside, then swap in the new one
            os.replace(dest, work / "old")
        try:
            os.replace(staged, dest)
        except OSError:  # another process finished the same download first
            if not verify(name, dest, manifest):
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest

"""The one commit protocol for outputs on a file system: staged per attempt, published together.

Life of a job's file outputs:

1. **Stage.** Spark writes each output into its own attempt folder beside the target,
   ``<parent>/.modelop-staging/<name>.<job id>.<attempt id>/`` (readers skip dot-folders). A
   dead attempt's folder never collides with a live one, and the next run of the job removes it.
2. **Plan.** Under the job's lock (:func:`job_lock`), each output becomes a :class:`Publication`:
   the paths to move aside (the previous copy, or in ``append`` mode this job's own earlier part
   files) and the moves that put the staged files in place. A folder or file at the target that
   this runtime did not write (no commit record of ours) is refused unless the asset or job says
   ``replace_foreign``: overwrite replaces only what we wrote.
3. **Publish as one transaction.** A journal (``.modelop-staging/_jobs/<job id>.commit.json``)
   records every publication with state ``prepared``; then every output is moved aside and
   published; then the journal says ``committed``; then the backups and staging folders are
   removed and the journal last.
4. **Recover.** A run that died in step 3 left its journal. The next run of the job (under the
   lock, before anything else) rolls a ``prepared`` journal back (every output's previous copy
   restored, the new files removed) and a ``committed`` one forward (only cleaning is left),
   then removes every leftover attempt folder of the job. A crash therefore leaves all old or all
   new outputs, once the job runs again.

Every step is an ``exists``/``rename``/``delete`` on the :class:`FileSystem` of the target, so
the same protocol runs over local paths and Hadoop file systems. ``MODELOP_SPARK_FAULT_AT=<step>``
makes the process exit (as a kill would) at a named step; the tests use it to kill a commit at
each step.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from modelop_spark._redact import redacted_logger
from modelop_spark.assets.filesystem import FileSystem, LocalFileSystem
from modelop_spark.assets.staging import STAGING_FOLDER, safe_job_id
from modelop_spark.errors import AssetError

log = redacted_logger(__name__)

MARKER = "_modelop_commit.json"  # inside a folder output: written by this runtime
RESULT_FILE = "_modelop_job_result.json"  # the job result beside an output is our mark too
JOURNALS = "_jobs"
FAULT_ENV = "MODELOP_SPARK_FAULT_AT"
FAULT_EXIT_CODE = 86
_ATTEMPT = re.compile(r"^[0-9a-f]{8}(\.previous)?$")


def split_parent(url: str) -> tuple[str, str]:
    stripped = url.rstrip("/")
    parent, _, name = stripped.rpartition("/")
    return (parent or "."), name


def staging_root(url: str) -> str:
    return f"{split_parent(url)[0]}/{STAGING_FOLDER}"


def new_attempt_id() -> str:
    return uuid.uuid4().hex[:8]


def staging_path(url: str, job_id: str, attempt: str | None = None) -> str:
    """This attempt's staging folder for ``url``: job id + attempt id, so concurrent or dead
    attempts of one job never share a folder."""
    _, name = split_parent(url)
    return f"{staging_root(url)}/{name}.{safe_job_id(job_id)}.{attempt or new_attempt_id()}"


def sidecar_marker(url: str) -> str:
    """Where the commit record of a single-file output goes: beside it (readers skip ``_``)."""
    parent, name = split_parent(url)
    return f"{parent}/_{name}.modelop_commit.json"


def _fault_point(step: str) -> None:
    """Test hook: exit at once (no cleanup, as ``kill -9`` would) at the named commit step."""
    if os.environ.get(FAULT_ENV) == step:
        os._exit(FAULT_EXIT_CODE)


def _numbered_fault(index: int, step: str) -> None:
    _fault_point(f"{step}-{index}")


def walk_files(fs: FileSystem, folder: str) -> list[str]:
    """Every file under ``folder``, recursively (partition folders included)."""
    found: list[str] = []
    for path in fs.list(folder):
        if fs.is_dir(path):
            found.extend(walk_files(fs, path))
        else:
            found.append(path)
    return found


def _relative(path: str, folder: str) -> str:
    """``path`` below ``folder`` (Hadoop lists ``file:/x`` for ``/x``: match on the tail)."""
    anchor = "/" + split_parent(folder)[1] + "/"
    return path.split(anchor, 1)[1] if anchor in path else split_parent(path)[1]


def _is_data(relative: str) -> bool:
    return not any(part.startswith(("_", ".")) for part in relative.split("/"))


# -- checks before anything is written --------------------------------------------------------


def check_mode(fs: FileSystem, url: str, mode: str, *, label: str) -> None:
    """Refuse ``error`` mode early, before any Spark job runs."""
    if mode == "error" and fs.exists(url):
        raise AssetError(f"output {label}: {url} already exists and mode is 'error'; remove it or use mode overwrite/append")


def written_by_us(fs: FileSystem, url: str) -> bool:
    """True when ``url`` holds a commit record (or a job result) of this runtime."""
    if fs.is_dir(url):
        return fs.exists(f"{url.rstrip('/')}/{MARKER}") or fs.exists(f"{url.rstrip('/')}/{RESULT_FILE}")
    parent, name = split_parent(url)
    return fs.exists(sidecar_marker(url)) or fs.exists(f"{parent}/_{name}.job_result.json")


def check_foreign(fs: FileSystem, url: str, mode: str, *, label: str, replace_foreign: bool = False) -> None:
    """Overwrite replaces only what this runtime wrote: a non-empty folder or a file at ``url``
    without our commit record is refused, unless the job says ``replace_foreign``."""
    if mode != "overwrite" or replace_foreign or not fs.exists(url):
        return
    if fs.is_dir(url) and not fs.list(url):
        return
    if not written_by_us(fs, url):
        what = "folder" if fs.is_dir(url) else "file"
        raise AssetError(
            f"output {label}: {url} is a non-empty {what} this runtime did not write; overwrite would "
            "delete it. Choose a new location, or set \"replace_foreign\": true in the output's options to replace it"
        )


# -- one output's share of the commit ----------------------------------------------------------


@dataclass(frozen=True)
class Publication:
    """What publishing one output does: move ``aside`` into ``backup``, then make ``moves``.
    Each step is idempotent, so a journal of these can be replayed or undone after a crash."""

    label: str
    target: str
    staging: str
    aside: tuple[str, ...] = ()
    moves: tuple[tuple[str, str], ...] = ()
    fs: FileSystem | None = field(default=None, compare=False, repr=False)
    commit: str = ""  # the job's commit (job id + attempt) that every output's record names

    @property
    def backup(self) -> str:
        return f"{self.staging}.previous"

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "target": self.target, "staging": self.staging, "store": self._fs().store,
                "aside": list(self.aside), "moves": [list(m) for m in self.moves], "commit": self.commit}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any], fs: FileSystem) -> Publication:
        return cls(label=data["label"], target=data["target"], staging=data["staging"], aside=tuple(data["aside"]),
                   moves=tuple((src, dst) for src, dst in data["moves"]), fs=fs, commit=data.get("commit", ""))  # fmt: skip

    def _fs(self) -> FileSystem:
        assert self.fs is not None
        return self.fs

    def swap(self, fault: Callable[[str], None] = lambda step: None) -> None:
        """Put the new output in place of the old in one atomic step where the store can: a folder
        swapped for a folder (``FileSystem.exchange``), a file put over a file whose old copy is
        kept by a second name (``FileSystem.replace_file``). ``move_aside`` and ``publish`` then do
        the rest (all of it, where the store cannot)."""
        fs = self._fs()
        for source, destination in self.moves:
            if destination not in self.aside or not fs.exists(source):
                continue
            kept = f"{self.backup}/{self.aside.index(destination)}"
            if fs.exists(kept):
                continue
            if not fs.is_dir(source) and not fs.is_dir(destination):
                # a single-file output: the old file stays reachable at ``kept`` for a roll back
                fs.mkdirs(self.backup)
                if fs.replace_file(source, destination, kept):
                    fault("swapped")
            elif fs.is_dir(source) and fs.is_dir(destination) and fs.exchange(source, destination):
                fault("swapped")
                fs.mkdirs(self.backup)
                fs.rename(source, kept)  # ``source`` holds the previous copy now: keep it for a roll back

    def move_aside(self) -> None:
        fs = self._fs()
        fs.mkdirs(self.backup)
        for index, path in enumerate(self.aside):
            kept = f"{self.backup}/{index}"
            if fs.exists(path) and not fs.exists(kept):
                fs.rename(path, kept)

    def publish(self) -> None:
        fs = self._fs()
        for source, destination in self.moves:
            if fs.exists(source):
                fs.mkdirs(split_parent(destination)[0])
                fs.rename(source, destination)

    def _ours(self, folder: str) -> bool:
        """Whether ``folder`` holds this commit's output (its record names this commit)."""
        fs = self._fs()
        record = f"{folder.rstrip('/')}/{MARKER}"
        if not self.commit or not fs.is_dir(folder) or not fs.exists(record):
            return False
        return json.loads(fs.read_text(record)).get("commit") == self.commit

    def roll_back(self) -> None:
        """Undo whatever part of ``swap``/``move_aside``/``publish`` happened: the new files go, the previous ones come
        back (swapped back in one step where the store can, so the target is never empty)."""
        fs = self._fs()
        for source, destination in reversed(self.moves):
            if fs.exists(source) and self._ours(destination) and not self._ours(source):
                # died between the swap and keeping the previous copy: swap back
                if not fs.exchange(source, destination):
                    fs.delete(destination)
                    fs.rename(source, destination)
            elif not fs.exists(source) and fs.exists(destination):
                kept = f"{self.backup}/{self.aside.index(destination)}" if destination in self.aside else None
                if kept is not None and fs.exists(kept) and fs.exchange(kept, destination):
                    continue  # the previous copy is back; the new one, now at ``kept``, goes with the backup
                fs.delete(destination)
        for index, path in enumerate(self.aside):
            kept = f"{self.backup}/{index}"
            if fs.exists(kept) and not fs.exists(path):
                fs.mkdirs(split_parent(path)[0])
                fs.rename(kept, path)
        self.clean()

    def clean(self) -> None:
        fs = self._fs()
        fs.delete(self.backup)
        fs.delete(self.staging)


def plan_publication(
    fs: FileSystem,
    staging: str,
    url: str,
    *,
    mode: str,
    job_id: str,
    single: bool = False,
    label: str | None = None,
    replace_foreign: bool = False,
) -> Publication:
    """Plan the publication of a fully written staging folder to ``url`` (under the job lock)."""
    label = label or url
    check_mode(fs, url, mode, label=label)
    check_foreign(fs, url, mode, label=label, replace_foreign=replace_foreign)
    record = {"job_id": job_id, "mode": mode}
    files = [f for f in walk_files(fs, staging) if _is_data(_relative(f, staging))]
    if single:
        if len(files) != 1:
            raise AssetError(f"output {label}: expected one data file in staging, found {len(files)}")
        fs.write_text(f"{staging}/{MARKER}", json.dumps({**record, "files": [split_parent(url)[1]]}))
        aside = tuple(p for p in (url, sidecar_marker(url)) if fs.exists(p))
        moves = ((files[0], url), (f"{staging}/{MARKER}", sidecar_marker(url)))
        return Publication(label=label, target=url, staging=staging, aside=aside, moves=moves, fs=fs)
    prefix = f"part-{safe_job_id(job_id)}-"
    if mode == "append" and fs.exists(url):
        # Join the target: this job's own earlier parts go aside (a rerun replaces them), the new
        # parts keep their partition folders and take the job's prefix.
        own = tuple(p for p in walk_files(fs, url) if split_parent(p)[1].startswith(prefix))
        appended: list[tuple[str, str]] = []
        for path in files:
            folder, _, name = _relative(path, staging).rpartition("/")
            appended.append((path, f"{url.rstrip('/')}/{folder + '/' if folder else ''}{prefix}{name}"))
        return Publication(label=label, target=url, staging=staging, aside=own, moves=tuple(appended), fs=fs)
    if mode == "append":
        for path in files:
            folder, name = split_parent(path)
            fs.rename(path, f"{folder}/{prefix}{name}")
    fs.write_text(f"{staging}/{MARKER}", json.dumps(record))
    aside = (url,) if fs.exists(url) else ()
    return Publication(label=label, target=url, staging=staging, aside=aside, moves=((staging, url),), fs=fs)


# -- the job's transaction ---------------------------------------------------------------------


def journal_path(root: str, job_id: str) -> str:
    return f"{root}/{JOURNALS}/{safe_job_id(job_id)}.commit.json"


def commit_publications(publications: Sequence[Publication], *, job_id: str) -> None:
    """Publish every output in one recorded transaction (see the module docstring)."""
    if not publications:
        return
    fs = publications[0]._fs()
    journal = journal_path(staging_root(publications[0].target), job_id)
    publications = _with_commit_records(publications, job_id=job_id)
    entries = [p.to_dict() for p in publications]
    fs.write_text(journal, json.dumps({"job_id": job_id, "state": "prepared", "outputs": entries}))
    _fault_point("prepared")
    try:
        for index, publication in enumerate(publications):
            publication.swap(partial(_numbered_fault, index))
            publication.move_aside()
            _fault_point(f"aside-{index}")
            publication.publish()
            _fault_point(f"published-{index}")
    except BaseException:
        for publication in reversed(publications):
            with contextlib.suppress(Exception):
                publication.roll_back()
        _remove_journal(fs, journal)
        raise
    fs.write_text(journal, json.dumps({"job_id": job_id, "state": "committed", "outputs": entries}))
    _fault_point("committed")
    for index, publication in enumerate(publications):
        publication.clean()
        _fault_point(f"cleaned-{index}")
    _remove_journal(fs, journal)


def _with_commit_records(publications: Sequence[Publication], *, job_id: str) -> list[Publication]:
    """Give every output of this commit the same commit id (job id + attempt) in its commit
    record, with the targets committed together: a reader who finds two outputs whose records
    name different commits knows they come from different attempts (see ``commit_record``)."""
    commit = f"{safe_job_id(job_id)}.{new_attempt_id()}"
    together = [p.target for p in publications]
    stamped = []
    for publication in publications:
        fs = publication._fs()
        record = f"{publication.staging}/{MARKER}"
        if fs.exists(record):
            document = json.loads(fs.read_text(record))
            fs.write_text(record, json.dumps({**document, "commit": commit, "committed_at": time.time(), "outputs": together}))
        stamped.append(replace(publication, commit=commit))
    return stamped


def commit_record(fs: FileSystem, url: str) -> dict[str, Any] | None:
    """The commit record of the output at ``url`` (None without one): ``job_id``, ``commit`` (job
    id + attempt), ``outputs`` (every target committed with it), ``mode``."""
    path = f"{url.rstrip('/')}/{MARKER}" if fs.is_dir(url) else sidecar_marker(url)
    return json.loads(fs.read_text(path)) if fs.exists(path) else None


def _remove_journal(fs: FileSystem, journal: str) -> None:
    fs.delete(journal)
    root = split_parent(split_parent(journal)[0])[0]
    for folder in (split_parent(journal)[0], root):
        remove_if_empty(fs, folder)


def remove_if_empty(fs: FileSystem, folder: str) -> None:
    with contextlib.suppress(OSError):  # a concurrent job may be staging there right now
        if fs.exists(folder) and not fs.list(folder):
            fs.delete(folder)


def recover(fs_for: Callable[[str], FileSystem], urls: Sequence[str], job_id: str) -> list[str]:
    """Finish or undo an interrupted commit of ``job_id`` and remove every leftover attempt
    folder of it beside ``urls``. Call under the job's lock. Returns what was done, for the log."""
    done: list[str] = []
    for root in dict.fromkeys(staging_root(u) for u in urls):
        fs = fs_for(root)
        journal = journal_path(root, job_id)
        if fs.exists(journal):
            done.append(finish_journal(fs_for, fs, journal))
    for url in urls:
        fs = fs_for(url)
        root = staging_root(url)
        if not fs.exists(root):
            continue
        own = f"{split_parent(url)[1]}.{safe_job_id(job_id)}."
        for path in fs.list(root):
            name = split_parent(path)[1]
            if name.startswith(own) and _ATTEMPT.match(name[len(own) :]):
                fs.delete(path)
                done.append(f"removed a dead attempt's staging folder {path}")
        remove_if_empty(fs, root)
    return done


def finish_journal(fs_for: Callable[[str], FileSystem], fs: FileSystem, journal: str) -> str:
    """Roll one journal's commit back (``prepared``) or forward (``committed``), then remove it."""
    record = json.loads(fs.read_text(journal))
    job_id = record["job_id"]
    publications = []
    for entry in record["outputs"]:
        target_fs = fs_for(entry["target"])
        if target_fs.store != entry.get("store", target_fs.store):
            log.warning("job %s: output %s of an interrupted commit is on another store; it is left as it is", job_id, entry["label"])
            continue
        publications.append(Publication.from_dict(entry, target_fs))
    if record["state"] == "committed":
        for publication in publications:
            publication.clean()
        what = f"rolled forward the interrupted commit of job {job_id}"
    else:
        for publication in reversed(publications):
            publication.roll_back()
        what = f"rolled back the interrupted commit of job {job_id}"
    _remove_journal(fs, journal)
    return what


def recover_under(folder: str | Path, *, lock_folder: Path | None = None) -> list[str]:
    """``modelop-spark recover DIR``: complete or roll back every commit journal found under a
    local ``folder``, without the job that left it. A job running now (its lock held) is left to
    itself. Returns what was done, one line each."""
    fs = LocalFileSystem()
    done: list[str] = []
    for journal in sorted(Path(folder).expanduser().absolute().glob(f"**/{STAGING_FOLDER}/{JOURNALS}/*.commit.json")):
        job_id = json.loads(journal.read_text())["job_id"]
        with job_lock(job_id, folder=lock_folder, wait=False) as held:
            if not held:
                done.append(f"job {job_id} is running; its commit is left to it")
                continue
            if journal.exists():
                done.append(finish_journal(lambda _: fs, fs, str(journal)))
    return done


@contextlib.contextmanager
def job_lock(job_id: str, *, folder: Path | None = None, wait: bool = True) -> Iterator[bool]:
    """Serialize the runs of one job id on this machine. The lock is an ``flock``: the kernel
    releases it when its process dies, so a killed run cannot hold it forever. Yields whether it
    is held (always True when ``wait``)."""
    folder = folder or Path(os.environ.get("MODELOP_SPARK_LOCK_DIR") or Path(tempfile.gettempdir()) / f"modelop-spark-locks-{os.getuid()}")
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(job_id.encode()).hexdigest()[:24]
    with open(folder / f"{digest}.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                yield False
                return
            log.warning("job %s is running in another process; waiting for it to finish", job_id)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def commit_staged_outputs(staged: Sequence[Any], *, job_id: str) -> None:
    """Commit a job's staged outputs: outputs of other kinds (tables, object stores) by their own
    commit first, then every file-system output in one transaction."""
    for output in staged:
        if getattr(output, "prepare", None) is None:
            output.commit()
    prepared = [output for output in staged if getattr(output, "prepare", None) is not None]
    try:
        commit_publications([p for output in prepared for p in output.prepare()], job_id=job_id)
    finally:
        for output in prepared:
            output.abort()  # tidies: the staging folders, emptied by the commit or not, and their empty parents


# -- one-output commits (metrics documents, snapshots) -----------------------------------------


def commit_directory(fs: FileSystem, staging: str, url: str, *, mode: str, job_id: str, replace_foreign: bool = False) -> None:
    """Publish a fully written staging folder at ``url``, as a one-output transaction."""
    commit_publications(
        [plan_publication(fs, staging, url, mode=mode, job_id=job_id, replace_foreign=replace_foreign)], job_id=job_id
    )


def commit_single_file(fs: FileSystem, staging: str, url: str, *, mode: str, job_id: str = "job", replace_foreign: bool = False) -> None:
    """Publish the one data file in ``staging`` as the file ``url``, as a one-output transaction."""
    commit_publications(
        [plan_publication(fs, staging, url, mode=mode, job_id=job_id, single=True, replace_foreign=replace_foreign)],
        job_id=job_id,
    )


def replace_target(fs: FileSystem, source: str, url: str) -> None:
    """Rename ``source`` to ``url``; an existing ``url`` is moved aside first and restored if
    the rename fails, so the target is never left half-replaced."""
    if not fs.exists(url):
        fs.mkdirs(split_parent(url)[0])
        fs.rename(source, url)
        return
    previous = f"{source}.previous"
    fs.delete(previous)  # left by a killed attempt of the same job
    fs.rename(url, previous)
    try:
        fs.rename(source, url)
    except Exception:
        fs.rename(previous, url)
        raise
    fs.delete(previous)

"""What parsing a spec file gave, kept on disk so that the next process need not parse it
again: the second `validate` of a tree, a `diff` after one file changed, the daemon's first
pass after a restart.

Content-addressed: an entry's key is the file's path, its bytes hashed as git hashes a blob
(`blob_id`, so a tree read from git and one read from disk share entries) and the code that
parsed it (`code_fingerprint`: this package's files, ruamel's, the interpreter's version).
The CLI keeps it under $XDG_CACHE_HOME/notify-reconciler (default ~/.cache), the daemon
under <stateDir>/cache.

An optimisation only, never a source of truth or of failure: an entry that is missing,
truncated, corrupt, written for another key or by other code is ignored and the file is
parsed again; a folder that cannot be created or written, or that another user could write
to, is not used. It holds what the parse made of a file (model objects, the located errors
`validate` prints), never a file's text, and no password: specs name where a password is
(passwordFile, passwordEnv), and the error messages about a value that may be one do not
show it. For the daemon it also holds each list's rendered lines (`PersistentRenderCache`:
addresses, matchers, no password) and what amtool accepted (deploy.CheckedParts: sha256
digests only, never the base's text).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ..yamlio.loader import DEFAULT_LIMITS, Limits, collector_paused

if TYPE_CHECKING:
    from ..specs.pipeline import ParseCache

_MAGIC = b"notify-reconciler cache 1\n"
_DIGEST = 32  # sha256 of the payload, after the magic line


def blob_id(data: bytes) -> str:
    """The id git gives `data` as a blob (`git hash-object`)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def user_cache_dir(environ: Mapping[str, str]) -> Path | None:
    """$XDG_CACHE_HOME/notify-reconciler, else ~/.cache/notify-reconciler; None without either."""
    base = environ.get("XDG_CACHE_HOME")
    if not base or not os.path.isabs(base):  # the XDG spec: a relative value is to be ignored
        home = environ.get("HOME")
        if not home:
            return None
        base = os.path.join(home, ".cache")
    return Path(base, "notify-reconciler")


@cache
def code_fingerprint() -> str:
    """What makes a parse come out differently besides the file: this package's modules and
    schemas, ruamel.yaml and its C parser, the interpreter. Their sizes and modification
    times, not their bytes: an upgrade or an edit changes those, and reading them would cost
    more than the whole lookup."""
    import importlib.util

    paths = code_files(PACKAGE)
    for name in ("ruamel.yaml", "_ruamel_yaml"):  # the packages themselves: a submodule would import them
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin:
            paths.append(Path(spec.origin))
    digest = hashlib.sha256(sys.version.encode())
    for path in paths:
        try:
            info = path.stat()
        except OSError:
            continue
        digest.update(f"\0{path}\0{info.st_size}\0{info.st_mtime_ns}".encode())
    return digest.hexdigest()


PACKAGE = Path(__file__).resolve().parents[1]
"""The `reconciler` package (this module lies in its io/ subpackage)."""


def code_files(package: Path = PACKAGE) -> list[Path]:
    """The package's modules, those of its subpackages too, and its schemas: what the code
    fingerprint covers."""
    return sorted([*package.rglob("*.py"), *package.glob("schemas/*.json")])


class DiskCache:
    """Values by key, one file each under `folder`; `folder` None keeps nothing."""

    def __init__(self, folder: str | os.PathLike | None) -> None:
        self.folder = Path(folder) if folder is not None else None
        self._usable: bool | None = None

    def _ready(self) -> bool:
        """Create the folder (mode 0700) on first use; refuse one another user could write to,
        since an entry is unpickled."""
        if self._usable is None:
            self._usable = False
            if self.folder is not None:
                try:
                    self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                    info = self.folder.stat()
                    self._usable = (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
                                    and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))
                except OSError:
                    pass
        return self._usable

    def _path(self, key: str) -> Path:
        return Path(self._file(key))

    def _file(self, key: str) -> str:
        name = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self.folder}/{name[:2]}/{name[2:]}"

    def get(self, key: str, slot: str | None = None) -> Any | None:
        """The value stored under `key`, else None. `slot`: where it is kept, when that is not
        the key itself (see `put`)."""
        if not self._ready():
            return None
        try:  # a plain open of a string path: a cold run looks up a thousand entries it has not got
            with open(self._file(slot or key), "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        payload = data[len(_MAGIC) + _DIGEST:]
        if not data.startswith(_MAGIC) or data[len(_MAGIC):len(_MAGIC) + _DIGEST] != hashlib.sha256(payload).digest():
            return None  # truncated, corrupt, or not ours
        # A snapshot holds a great many objects (more than one a recipient): the collector would
        # walk the new objects again and again (a large part of the load), though none is garbage yet.
        with collector_paused():
            try:
                stored_key, value = pickle.loads(payload)
            except Exception:  # noqa: BLE001 - whatever a damaged or foreign entry raises, it is not one
                return None
        return value if stored_key == key else None

    def put(self, key: str, value: Any, slot: str | None = None) -> None:
        """Write atomically (a reader sees the old entry or the new one), without fsync: a
        power cut may leave a truncated entry, which `get` ignores.

        With a `slot` the entry is kept there instead of at its key, and replaces whatever the
        slot held: for what is large and stands for a whole folder (a snapshot of its parses,
        a command's answer for it), whose key changes with every new tree or code version.
        Keyed by content alone, each of those was a new file that nothing ever removed (for a
        `diff`, a whole render each time)."""
        if not self._ready():
            return
        import tempfile

        path = self._path(slot or key)
        try:
            payload = pickle.dumps((key, value), protocol=pickle.HIGHEST_PROTOCOL)
            path.parent.mkdir(mode=0o700, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(descriptor, "wb") as out:
                    out.write(_MAGIC + hashlib.sha256(payload).digest() + payload)
                os.replace(temporary, path)
            except BaseException:
                os.unlink(temporary)
                raise
        except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
            self._usable = False  # full, read-only, gone: stop trying for this process


class PersistentParseCache(dict):
    """A pipeline.ParseCache ((path, blob id) -> ParsedFile) that also reads entries it does
    not hold from a DiskCache, and writes the ones it parsed. pipeline.parse_specs uses it
    as it uses the in-memory one. (A dict, as ParseCache is, rather than a subclass of it:
    importing pipeline, and the model with it, is a cost that a `validate` whose answer is
    in the cache should not pay.)

    With a `location` (the folder, or the repository and branch), many new entries at once
    (a cold run) are written as one snapshot of the whole tree instead of one file each:
    creating a file costs system time, and one file an entry for a large tree took longer
    than parsing the files. A few new entries (a changed file) are
    written one file each, and found there next time."""

    SNAPSHOT_AT = 32
    """This many new entries or more are written as a snapshot."""

    def __init__(self, disk: DiskCache, limits: Limits = DEFAULT_LIMITS, location: str | None = None) -> None:
        super().__init__()
        self.disk = disk
        self._prefix = f"parsed\0{code_fingerprint()}\0{limits!r}\0"
        self._snapshot_key = f"snapshot\0{self._prefix}{location}" if location is not None else None
        self._snapshot_slot = f"parse snapshot\0{location}"
        """One snapshot a folder (or repository, branch and path), whatever the code: an upgrade
        replaces it instead of adding one."""
        self._snapshot: dict | None = None
        self._stored: set[tuple[str, str]] = set()
        """Keys known to be on disk already (an entry file, or the snapshot): not written again."""

    def _key(self, key: tuple[str, str]) -> str:
        return self._prefix + "\0".join(key)

    def _from_snapshot(self, key: tuple[str, str]) -> Any:
        if self._snapshot is None:
            snapshot = (self.disk.get(self._snapshot_key, self._snapshot_slot) if self._snapshot_key is not None
                        else None)
            self._snapshot = snapshot if isinstance(snapshot, dict) else {}
        return self._snapshot.get(key)

    def __contains__(self, key: object) -> bool:
        """Held in memory, or loaded from disk now: GitSource.read leaves a file unread when its
        parse is here, so after a restart a file with a good entry is not read from git."""
        return dict.__contains__(self, key) or (isinstance(key, tuple) and self.get(key) is not None)

    def get(self, key: tuple[str, str], default: Any = None) -> Any:
        from ..specs.pipeline import ParsedFile

        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        value = self._from_snapshot(key)
        if not isinstance(value, ParsedFile):
            value = self.disk.get(self._key(key))
        if not isinstance(value, ParsedFile):
            return default
        self._stored.add(key)
        self[key] = value
        return value

    def update(self, entries: Any = (), **more: Any) -> None:
        entries = dict(entries, **more)
        new = [key for key in entries if key not in self._stored]
        if self._snapshot_key is not None and len(new) >= self.SNAPSHOT_AT:
            self.disk.put(self._snapshot_key, entries, self._snapshot_slot)
        else:
            for key in new:
                self.disk.put(self._key(key), entries[key])
        self._stored.update(new)
        super().update(entries)
        # What the tree needs is in memory now; the snapshot read at the start would only keep
        # the parses of files since changed alive (a daemon runs for months).
        self._snapshot = {}


class PersistentRenderCache(dict):
    """render's RenderCache (id of a RecipientList -> CachedPart) that also keeps each list's
    rendered lines on disk, so the first render after a restart renders only the lists that
    changed (reading a list's lines back is far cheaper than rendering it).

    An id means nothing to another process, so on disk a part is keyed by where its list came
    from: the file's path and blob id, and the list's place among the file's objects (the
    parse cache, `parsed`, knows which objects those are; the same blob parsed by the same
    code gives the same list). With the part goes the context it was rendered in (routing,
    TLS, cap, indents, mail fields), which render compares as it does in memory; and the
    code fingerprint is in the key, since the lines are render.py's work. As for parses, a
    cold render writes one snapshot and a later changed list its own entry. A part holds what
    the parse cache holds (addresses, matchers, template names), no password: the render
    names the file a password is in."""

    SNAPSHOT_AT = PersistentParseCache.SNAPSHOT_AT

    def __init__(self, disk: DiskCache, parsed: ParseCache, location: str) -> None:
        super().__init__()
        self.disk = disk
        self.parsed = parsed
        self._prefix = f"rendered\0{code_fingerprint()}\0"
        self._snapshot_key = f"{self._prefix}snapshot\0{location}"
        self._snapshot_slot = f"render snapshot\0{location}"
        self._loaded = False
        self._saved: dict[int, tuple[str, str]] = {}
        """id of a list -> the lines object on disk for it. A render that reuses a part hands
        back that same object (its context was equal), so only other parts are new."""

    def _places(self) -> dict[int, tuple[str, str, int]]:
        """id of each RecipientList of the tree the parse cache holds -> (path, blob id, its place)."""
        from ..specs.model import RecipientList

        return {id(item.value): (path, blob, index) for (path, blob), entry in dict.items(self.parsed)
                for index, item in enumerate(entry.objects) if isinstance(item.value, RecipientList)}

    def _entry_key(self, place: tuple[str, str, int]) -> str:
        return f"{self._prefix}{place[0]}\0{place[1]}\0{place[2]}"

    def get(self, key: int, default: Any = None) -> Any:
        if not self._loaded:
            self._loaded = True
            self._load()
        return dict.get(self, key, default)

    def _load(self) -> None:
        """Once, before the first render: the parts on disk of the lists the parse cache holds."""
        from ..core.render import CachedPart

        snapshot = self.disk.get(self._snapshot_key, self._snapshot_slot)
        snapshot = snapshot if isinstance(snapshot, dict) else {}
        lists = {id(item.value): item.value for entry in dict.values(self.parsed) for item in entry.objects}
        for identity, place in self._places().items():
            stored = snapshot.get(place)
            if stored is None:
                stored = self.disk.get(self._entry_key(place))
            if (isinstance(stored, tuple) and len(stored) == 2 and isinstance(stored[0], tuple)
                    and isinstance(stored[1], tuple) and len(stored[1]) == 2
                    and all(isinstance(text, str) for text in stored[1])):
                self._saved[identity] = stored[1]
                dict.__setitem__(self, identity, CachedPart(lists[identity], *stored))

    def update(self, entries: Any = (), **more: Any) -> None:
        """What render kept (its parts of this tree), in memory and on disk."""
        super().update(entries, **more)
        self._loaded = True
        new = [identity for identity, part in dict.items(self) if self._saved.get(identity) is not part.lines]
        if new:
            places = self._places()
            if len(new) >= self.SNAPSHOT_AT:
                self.disk.put(self._snapshot_key, {places[identity]: (part.context, part.lines)
                                                   for identity, part in dict.items(self) if identity in places},
                              self._snapshot_slot)
            else:
                for identity in new:
                    if identity in places:
                        part = dict.__getitem__(self, identity)
                        self.disk.put(self._entry_key(places[identity]), (part.context, part.lines))
        self._saved = {identity: part.lines for identity, part in dict.items(self)}

"""Where spec files come from: a folder on disk (validate, render, diff) or a git commit.

`read_spec_folder` returns the bytes of every ``*.yaml``/``*.yml`` file under a folder,
keyed by path relative to it, plus located errors for what it refused to read:
- a symlink that resolves outside the folder (it could expose any file on the host);
- a file larger than the loader's limit (read no further than that limit);
- a file that cannot be read.
Hidden files and folders (``.git``, ``.github``) are skipped, as editors and git tools do.

`GitSource` reads the same tree from the committed branch, straight from git objects, so an
uncommitted or half-written file in a checkout is never applied.

`committed_specs` is the one way every command (apply, the daemon, mail-test, who-gets)
gets the committed specs: fetch, resolve the branch, verify the signature when
source.verify asks for it, read and parse (unchanged files from the cache), and refuse a
password file or variable the operator's `secrets:` does not list. Nothing unverified ever
leaves it.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Container, NamedTuple

from ..display import CONTROL_CHARACTERS, redact_urls
from ..errors import CommitRejected, EnvironmentProblem, Location, SourceError, SpecError, SpecErrors
from ..yamlio.loader import DEFAULT_LIMITS, Limits, too_large_message

if TYPE_CHECKING:
    import git

    from ..specs.daemon_config import SecretSettings
    from ..specs.model import Specs
    from ..specs.pipeline import ParseCache
    from ..values import Revision

SPEC_SUFFIXES = (".yaml", ".yml")
"""Read as spec files, in any case (ops.YAML too: an editor on another system may save it so)."""
_DOCUMENT_SUFFIXES = (".md", ".markdown", ".rst", ".adoc", ".asciidoc", ".html", ".htm", ".tmpl", ".tpl")
"""Files that may quote a spec as an example (a README) without being one."""
_SNIFF_BYTES = 64 * 1024
_DECLARES_SPEC = re.compile(rb"^[ \t]*(?:-{3}[ \t]+)?[\"']?apiVersion[\"']?[ \t]*:[ \t]*[\"']?notify-reconciler/",
                            re.MULTILINE)


def is_spec_name(name: str) -> bool:
    """Whether a file of this name is read as a spec file."""
    return name.lower().endswith(SPEC_SUFFIXES)


def unread_spec_error(shown: str, head: bytes) -> SpecError | None:
    """An error for a file that is not read (its name does not end in .yaml or .yml) but
    holds a spec, such as ops.yaml.txt or ops.txt: skipping it without a word would drop
    its lists from the config while validate said yes. Documentation is left alone."""
    if shown.lower().endswith(_DOCUMENT_SUFFIXES):
        return None
    found = _DECLARES_SPEC.search(head)
    if not found:
        return None
    line = head.count(b"\n", 0, found.start()) + 1
    stem = shown.rsplit("/", 1)[-1].split(".", 1)[0] or "spec"
    return SpecError(Location(shown, line, 1), "", "this file holds a notify-reconciler spec, but only files ending "
                                                   f"in .yaml or .yml are read: rename it (to {stem}.yaml, say), or "
                                                   "delete it if it is an old copy")


@dataclass
class SpecFolder:
    files: dict[str, bytes] = field(default_factory=dict)
    errors: list[SpecError] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)
    """Path -> git blob id, for a tree read from git: files with a known blob id may be left
    out of `files` (see GitSource.read's `known`)."""
    templates: dict[str, bytes] = field(default_factory=dict)
    """The template files (*.tmpl) a list may name as its body: read, never parsed as specs."""
    template_digests: dict[str, str] = field(default_factory=dict)
    """Path -> git blob id of each template file, where a caller keys a cache by them."""


TEMPLATE_SUFFIX = ".tmpl"


def is_template_name(name: str) -> bool:
    """Whether a file of this name is a template file a RecipientList may name."""
    return name.endswith(TEMPLATE_SUFFIX)


def read_spec_folder(folder: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> SpecFolder:
    """Every spec file under `folder`, read safely. Raises EnvironmentProblem if the folder
    itself cannot be read."""
    root = Path(folder)
    if not root.is_dir():
        raise EnvironmentProblem(f"{folder}: not a folder: give the folder that holds the spec files")
    real_root = root.resolve()
    result = SpecFolder()
    for directory, subdirs, names in os.walk(root, followlinks=False, onerror=_raise_unreadable):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in subdirs:
            path = Path(directory, name)
            if path.is_symlink() and not path.resolve().is_relative_to(real_root):
                result.errors.append(SpecError(Location(path.relative_to(root).as_posix(), 1, 1), "",
                                               f"symlink to {os.readlink(path)!s}, outside the spec folder: "
                                               "spec files must live inside it"))
        # Names as strings, one lstat a file: pathlib's objects and three stats a file were a
        # fifth of a warm `validate` of 1,000 files.
        prefix = os.path.relpath(directory, root).replace(os.sep, "/") + "/"
        prefix = "" if prefix == "./" else prefix
        for name in sorted(names):
            if name.startswith("."):
                continue
            path = os.path.join(directory, name)
            shown = prefix + name
            template = is_template_name(name)
            if not is_spec_name(name) and not template:
                _check_unread(Path(path), shown, result)
                continue
            problem = _refusal(path, real_root)
            if problem:
                if not template:  # a template file matters only when a list names it
                    result.errors.append(SpecError(Location(shown, 1, 1), "", problem))
                continue
            try:
                with open(path, "rb") as handle:
                    size = os.fstat(handle.fileno()).st_size
                    if size > limits.max_file_bytes:
                        result.errors.append(SpecError(Location(shown, 1, 1), "",
                                                       too_large_message(size, limits, template=template)))
                        continue
                    # One byte past the limit: a file that grew since fstat is still caught by the loader.
                    (result.templates if template else result.files)[shown] = handle.read(limits.max_file_bytes + 1)
            except OSError as exc:
                result.errors.append(SpecError(Location(shown, 1, 1), "", f"cannot read: {exc.strerror}"))
    return result


def _check_unread(path: Path, shown: str, result: SpecFolder) -> None:
    if path.is_symlink() or not path.is_file():
        return
    try:
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return  # not a spec file: it does not have to be readable
    problem = unread_spec_error(shown, head)
    if problem:
        result.errors.append(problem)


def _refusal(path: str, real_root: Path) -> str | None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return "broken symlink: remove it or point it at a file inside the spec folder"  # or gone since listed
    except OSError as exc:  # a folder on the way that may not be searched, say
        return f"cannot read: {exc.strerror}"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        if not os.path.exists(path):
            return "broken symlink: remove it or point it at a file inside the spec folder"
        if not Path(path).resolve().is_relative_to(real_root):
            return (f"symlink to {os.readlink(path)!s}, outside the spec folder: "
                    "spec files must live inside it; copy the file in or remove the link")
        if os.path.isfile(path):
            return None
    return "not a regular file"


def _raise_unreadable(error: OSError) -> None:
    raise EnvironmentProblem(f"{error.filename}: cannot read: {error.strerror}")


# -- git --------------------------------------------------------------------------------------

class SignatureCheck(NamedTuple):
    signer: str | None = None
    """Who signed, as the allowed-signers file names them, and the key's fingerprint."""
    problem: str | None = None
    """Why the commit may not be applied; None when it may."""


_GOOD_SIGNATURE = re.compile(r'^Good "git" signature for (?P<principal>\S.*?) with (?P<key>\S+ key SHA256:\S+)$',
                             re.MULTILINE)
"""ssh-keygen's words for a signature by a key the allowed-signers file lists for a principal
(one it does not list reads 'Good "git" signature with ...': no principal, no trust)."""
_SSH_SIGNATURE = re.compile(rb"-----BEGIN SSH SIGNATURE-----\n[A-Za-z0-9+/=\n]+-----END SSH SIGNATURE-----\n?")


def trusted_signer(status: int, said: str) -> str | None:
    """The allowed principal and key that `git verify-commit --raw` names, when it exited 0
    and its verifier said so in its own words; None (no trust) otherwise."""
    good = _GOOD_SIGNATURE.search(said) if status == 0 else None
    return f"{good['principal']} ({good['key']})" if good else None


def _pinned_verifiers() -> tuple[str, ...]:
    """git config, on the command line (above any repository's), naming every signature
    verifier: ssh-keygen by its path for SSH; for OpenPGP and X.509 a program that refuses,
    so such a signature never reaches the daemon user's keyring."""
    import shutil  # here only: it imports the compression modules

    ssh_keygen = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"
    return ("-c", "gpg.format=ssh", "-c", f"gpg.ssh.program={ssh_keygen}", "-c", "gpg.program=false",
            "-c", "gpg.openpgp.program=false", "-c", "gpg.x509.program=false")


def signature_header_problem(raw_commit: bytes) -> str | None:
    """Why the signature headers of a raw commit object (`git cat-file commit`) cannot be
    trusted, or None when there is exactly one and it holds exactly one SSH signature.

    Read as git's `parse_buffer_signed_by_header` reads them: the header lines end at the
    first empty line; every header whose name starts with `gpgsig` is a signature, and the
    ones git verifies are concatenated, so two of any kind are refused."""
    head = raw_commit.split(b"\n\n", 1)[0]
    signatures: list[tuple[bytes, list[bytes]]] = []
    current: list[bytes] | None = None
    for line in head.split(b"\n"):
        if line.startswith(b" ") and current is not None:
            current.append(line[1:])
            continue
        current = None
        if line.startswith(b"gpgsig"):
            name, _, value = line.partition(b" ")
            current = [value]
            signatures.append((name, current))
    if not signatures:
        return "is not signed: source.verify accepts only signed commits"
    if len(signatures) > 1:
        names = ", ".join(name.decode("ascii", "replace") for name, _ in signatures)
        return (f"carries {len(signatures)} signature headers ({names}), which git would verify as one: "
                "source.verify accepts exactly one SSH signature")
    name, lines = signatures[0]
    body = b"\n".join(lines) + b"\n"
    if name != b"gpgsig":
        return (f"carries a signature header {name.decode('ascii', 'replace')!r}, not 'gpgsig': source.verify "
                "accepts exactly one SSH signature")
    if _SSH_SIGNATURE.fullmatch(body) is None:
        kind = "an OpenPGP" if b"BEGIN PGP" in body else "an X.509" if b"BEGIN SIGNED MESSAGE" in body else "a non-SSH"
        return f"carries {kind} signature, and source.verify checks SSH signatures only"
    return None


def is_remote(repo: str) -> bool:
    """A URL (file://, https://, ssh://) or scp-like `user@host:path`, not a local path."""
    return "://" in repo or bool(re.match(r"^[\w.-]+@[\w.-]+:", repo))


class TreeBlob(NamedTuple):
    """One file of a commit's tree, as `git ls-tree -l` lists it."""

    mode: int
    oid: str
    size: int


MAX_PATH_BYTES = 1024
"""A path in the spec folder longer than this is refused (the listing stays small)."""


class TreeListing:
    """The blobs of `git ls-tree -r -l -z` output, read as it streams, by path; what is
    refused, from the listing alone: too many entries (of any kind, submodules too), too many
    bytes in all, a path too long, a name that is not UTF-8 or holds a control character."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.blobs: dict[str, TreeBlob] = {}
        self.entries = 0
        self.total = 0
        self.refusal: str | None = None
        self._rest = b""

    def feed(self, chunk: bytes) -> bool:
        """Take more of the listing; False once a limit is passed (stop reading then)."""
        entries = (self._rest + chunk).split(b"\0")
        self._rest = entries.pop()
        if len(self._rest) > MAX_PATH_BYTES + 100:
            return self._refuse(f"a path in the spec folder is longer than {MAX_PATH_BYTES:,} bytes: shorten it")
        return all(self._entry(entry) for entry in entries if entry)

    def _entry(self, entry: bytes) -> bool:
        self.entries += 1
        if self.entries > self.limits.max_tree_files:
            return self._refuse(f"the spec folder holds more than the {self.limits.max_tree_files:,} files a commit's "
                                "may have: keep only the specs in it (source.path names the folder)")
        info, _, raw_path = entry.partition(b"\t")
        if len(raw_path) > MAX_PATH_BYTES:
            return self._refuse(f"a path in the spec folder is longer than {MAX_PATH_BYTES:,} bytes: shorten it")
        try:
            path = raw_path.decode("utf-8")
        except UnicodeDecodeError:
            path = raw_path.decode("utf-8", "surrogateescape")
            return self._refuse(f"the file name {ascii(path)} is not UTF-8: rename it")
        if CONTROL_CHARACTERS.search(path):
            return self._refuse(f"the file name {ascii(path)} holds a control character: rename it")
        mode, kind, oid, size = info.split()
        if kind != b"blob":
            return True  # a submodule: counted, never read
        self.total += int(size)
        if self.total > self.limits.max_tree_bytes:
            return self._refuse(f"the spec folder's files are more than the {self.limits.max_tree_bytes:,} bytes in "
                                "all a commit's may have: keep only the specs in it (source.path names the folder)")
        self.blobs[path] = TreeBlob(int(mode, 8), oid.decode("ascii"), int(size))
        return True

    def _refuse(self, why: str) -> bool:
        self.refusal = why
        return False


class _ReadBudget:
    """What one read of a tree may take: at most `Limits.max_spec_bytes` in all, counted as
    read (a symlink counts its target again), so links cannot multiply what the listing
    allowed."""

    def __init__(self, revision: Revision, folder: str, limits: Limits) -> None:
        self.revision, self.folder, self.limits, self.spent = revision, folder, limits, 0

    def read(self, repo: git.Repo, blob: TreeBlob) -> bytes:
        self.spent += blob.size
        if self.spent > self.limits.max_spec_bytes:
            problem = (f"the spec and template files are more than the {self.limits.max_spec_bytes:,} bytes in all a "
                       "commit's may have (each symlink counts its target again): split the configuration, or "
                       "remove what is not a spec")
            raise CommitRejected(self.revision, problem, (f"{self.folder}: {problem}",))
        return GitSource._blob_data(repo, blob)


class GitSource:
    """The committed specs of one branch. A local repo is read in place; a URL is cloned
    once (bare) under the state directory and fetched after that. Nothing is ever read
    from a working tree: only git objects of the branch's commit."""

    FETCH_TIMEOUT = 120

    def __init__(self, repo: str, branch: str, path: str, state_dir: str | os.PathLike) -> None:
        self.url = repo
        self.branch = branch
        self.path = path.strip("/") if path not in (".", "./", "") else ""
        self.remote = is_remote(repo)
        self._clone_dir = Path(state_dir, "source", hashlib.sha256(repo.encode()).hexdigest()[:16] + ".git")
        self._repo: git.Repo | None = None

    def fetch(self) -> None:
        """Bring the branch up to date from a remote (no-op for a local repo)."""
        if not self.remote:
            return
        repo = self._open()
        refspec = f"+refs/heads/{self.branch}:refs/heads/{self.branch}"
        from .liveness import WAITS

        try:
            with WAITS.bounded(self.FETCH_TIMEOUT + 5):  # the watchdog's: git is killed by then
                repo.git.fetch("--no-tags", "--quiet", self.url, refspec, kill_after_timeout=self.FETCH_TIMEOUT,
                               env=_GIT_ENV)
        except git.GitCommandError as exc:
            reason = _git_message(exc)
            if "mismatched algorithms" in reason:
                reason += (" (a repository in another object format than SHA-1, which notify-reconciler cannot "
                           "read: only SHA-1 repositories, git's default, are supported)")
            raise SourceError(f"{_redact_url(self.url)}: fetching branch {self.branch!r} failed: {reason}") from exc

    def head(self) -> Revision:
        """The branch's current commit."""
        return self._retrying(self._head)

    def read(self, revision: Revision, limits: Limits = DEFAULT_LIMITS,
             known: Container[tuple[str, str]] = frozenset()) -> SpecFolder:
        """The spec files under `path` at `revision`, from git objects only. A file whose
        (path, blob id) is in `known` is listed in `digests` but not read again."""
        return self._retrying(lambda: self._read(revision, limits, known))

    def _retrying(self, operation):
        # GitPython keeps `git cat-file` running between calls; if it died (killed, a broken
        # pipe), start afresh once rather than fail every pass after.
        try:
            return operation()
        except OSError:  # BrokenPipeError, ConnectionResetError, ...
            self.close()
            try:
                return operation()
            except OSError as again:
                raise SourceError(f"{_redact_url(self.url)}: git failed: {again}") from again

    def _head(self) -> Revision:
        """The branch's commit, read from the raw object once its size is known to be small:
        a pusher's commit with a 200 MB message is refused from its header, unread."""
        from ..values import Revision

        repo = self._open()
        try:
            sha = repo.git.rev_parse("--verify", f"refs/heads/{self.branch}^{{commit}}", env=_GIT_ENV).strip()
            size = repo.odb.info(bytes.fromhex(sha)).size  # git cat-file --batch-check, kept running
        except (ValueError, git.GitCommandError) as exc:
            raise SourceError(f"{_redact_url(self.url)}: {_no_branch(repo, self.branch)}") from exc
        if len(sha) != 40:  # git reads it, but its signature headers and object ids are another format
            raise SourceError(f"{_redact_url(self.url)}: {_no_branch(repo, self.branch)}")
        if size > MAX_COMMIT_BYTES:
            revision = Revision(sha, "(not read)", "(not read)", 0)
            problem = (f"the commit object is {size:,} bytes, more than the {MAX_COMMIT_BYTES:,} a commit may have "
                       "(its message is too long): push a commit with a shorter message")
            raise CommitRejected(revision, problem, (problem,))
        return revision_of(sha, self._raw_commit(repo, sha))

    def _raw_commit(self, repo: git.Repo, sha: str) -> bytes:
        """The commit object as git stores it (`git cat-file --batch`, kept running, with
        replace objects off like every git command here)."""
        try:
            stream = repo.odb.stream(bytes.fromhex(sha))
        except (ValueError, git.GitCommandError) as exc:
            raise SourceError(f"{_redact_url(self.url)}@{sha[:7]}: cannot read the commit: {exc}") from exc
        if stream.type != b"commit":
            raise SourceError(f"{_redact_url(self.url)}@{sha[:7]}: not a commit but a {stream.type.decode()}")
        return stream.read()

    def _read(self, revision: Revision, limits: Limits, known: Container[tuple[str, str]]) -> SpecFolder:
        repo = self._open()
        result = SpecFolder()
        blobs = self._list(repo, revision, limits)
        prefix = self.path + "/" if self.path else ""
        budget = _ReadBudget(revision, self.path or ".", limits)
        for full_path, blob in sorted(blobs.items()):
            shown = full_path[len(prefix):]
            if any(part.startswith(".") for part in shown.split("/")):
                continue
            template = is_template_name(shown)
            if not is_spec_name(shown) and not template:
                # Only a file small enough to be a spec is looked into: git would inflate a
                # large one whole to give its first bytes.
                if blob.mode != _SYMLINK_MODE and blob.size <= limits.max_file_bytes:
                    problem = unread_spec_error(shown, budget.read(repo, blob)[:_SNIFF_BYTES])
                    if problem:
                        result.errors.append(problem)
                continue
            if blob.mode == _SYMLINK_MODE:
                link = budget.read(repo, blob) if blob.size <= 4096 else b"/"
                target = posixpath.normpath(posixpath.join(posixpath.dirname(full_path),
                                                           link.decode("utf-8", "replace")))
                if not (target + "/").startswith(prefix) or target not in blobs:
                    if template:  # a template file matters only when a list names it
                        continue
                    result.errors.append(SpecError(Location(shown, 1, 1), "",
                                                   "symlink to a file outside the spec folder: spec files must "
                                                   "live inside it; copy the file in or remove the link"))
                    continue
                blob = blobs[target]
            if not template and (shown, blob.oid) in known:
                result.digests[shown] = blob.oid
                continue
            if blob.size > limits.max_file_bytes:
                result.errors.append(SpecError(Location(shown, 1, 1), "",
                                               too_large_message(blob.size, limits, template=template)))
                continue
            if template:
                result.templates[shown] = budget.read(repo, blob)
                continue
            result.digests[shown] = blob.oid
            result.files[shown] = budget.read(repo, blob)
        return result

    def _list(self, repo: git.Repo, revision: Revision, limits: Limits) -> dict[str, TreeBlob]:
        """Every blob under `path` at `revision`, with its size from the object's header, as
        git lists them (`git ls-tree -r -l`), read as it streams and stopped at the first
        limit passed (CommitRejected): nothing is read yet."""
        location = f"{_redact_url(self.url)}@{revision.short}"
        try:
            kind = repo.git.cat_file("-t", f"{revision.sha}:{self.path}", env=_GIT_ENV) if self.path else "tree"
        except git.GitCommandError:
            raise SourceError(f"{location}: no folder {self.path!r}: check source.path") from None
        if kind != "tree":
            raise SourceError(f"{location}: source.path {self.path!r} is a file, not a folder: name the folder that "
                              "holds the spec files")
        listing = TreeListing(limits)
        process = repo.git.execute(["git", "ls-tree", "-r", "-l", "-z", "--full-tree", revision.sha, "--",
                                    *([self.path + "/"] if self.path else [])], env=_GIT_ENV, as_process=True)
        try:
            while chunk := process.proc.stdout.read(65536):
                if not listing.feed(chunk):
                    process.proc.kill()
                    break
            else:
                listing.feed(b"\0")
            status = process.proc.wait()
        finally:
            process.proc.stdout.close()
        if listing.refusal:
            raise CommitRejected(revision, listing.refusal, (f"{self.path or '.'}: {listing.refusal}",))
        if status != 0:
            said = process.proc.stderr.read().decode("utf-8", "replace").strip()
            raise SourceError(f"{location}: cannot read the commit: {_redact_url(said)[:300]}")
        return listing.blobs

    @staticmethod
    def _blob_data(repo: git.Repo, blob: TreeBlob) -> bytes:
        """The content of a blob whose size was checked."""
        return repo.odb.stream(bytes.fromhex(blob.oid)).read()

    def check_signature(self, revision: Revision, allowed_signers: str) -> SignatureCheck:
        """Who signed `revision`, if it carries one good SSH signature by a key of
        `allowed_signers`; else why not, in words. Fails closed: anything this cannot read
        as exactly that is a refusal.

        The commit is read as git reads it (`git cat-file commit`), not through GitPython's
        summary of it, which keeps only the last signature header while git verifies them
        all concatenated, with the verifier the first one names. So a commit must carry
        exactly one `gpgsig` header, holding one SSH signature. Every verifier program is
        pinned (a repository's own config cannot swap one in that always says yes, nor send
        an OpenPGP signature to the daemon user's keyring), and trust needs the verifier's
        own words naming the allowed principal."""
        if not Path(allowed_signers).is_file():
            return SignatureCheck(problem=f"source.verify.allowedSignersFile {allowed_signers} does not exist: no "
                                          "commit can be trusted until it does")
        repo = self._open()
        raw = self._retrying(lambda: self._raw_commit(self._open(), revision.sha))  # size checked by head()
        problem = signature_header_problem(raw)
        if problem:
            return SignatureCheck(problem=f"commit {revision.short} {problem}: sign it with an SSH key listed in "
                                          f"{allowed_signers} (git config gpg.format ssh)")
        try:
            status, _, said = repo.git.execute(["git", *_pinned_verifiers(), "-c",
                                                f"gpg.ssh.allowedSignersFile={allowed_signers}",
                                                "verify-commit", "--raw", revision.sha], env=_GIT_ENV,
                                               with_extended_output=True)
        except git.GitCommandError as exc:
            stderr = exc.stderr if isinstance(exc.stderr, str) else ""
            detail = " ".join(line.strip() for line in stderr.replace("stderr:", "").strip(" '\n").splitlines()
                              if line.strip())[:300]
            return SignatureCheck(problem=f"commit {revision.short} is not signed by an allowed key "
                                          f"({detail or 'verification failed'}): sign it with a key listed in "
                                          f"{allowed_signers}")
        signer = trusted_signer(status, said if isinstance(said, str) else "")
        if signer is None:
            return SignatureCheck(problem=f"commit {revision.short} is not signed by an allowed key (the verifier "
                                          f"named no allowed signer): sign it with a key listed in {allowed_signers}")
        return SignatureCheck(signer=signer)

    def descends_from(self, revision: Revision, ancestor: Revision) -> bool:
        """Whether `ancestor` is `revision` or one of its ancestors, as git decides
        (`git merge-base --is-ancestor`). An ancestor git no longer has counts as not one."""
        repo = self._open()
        if revision.sha == ancestor.sha:
            return True
        try:
            self._retrying(lambda: repo.git.merge_base("--is-ancestor", ancestor.sha, revision.sha, env=_GIT_ENV))
        except git.GitCommandError:  # 1: not an ancestor; 128: an object git does not have
            return False
        return True

    def local_git_dir(self) -> Path | None:
        """The git directory of a local repo (to watch its refs); None for a URL."""
        if self.remote:
            return None
        return Path(self._open().git_dir)

    def _open(self) -> git.Repo:
        if self._repo is not None:
            return self._repo
        _import_git()
        if not self.remote:
            try:
                self._repo = git.Repo(self.url)
            except (git.NoSuchPathError, git.InvalidGitRepositoryError) as exc:
                raise SourceError(f"{self.url}: {_why_not_a_repository(self.url)}") from exc
            # Every git command of this repo, GitPython's long-running cat-file included.
            self._repo.git.update_environment(**_trusting(self._repo), **_AS_STORED)
            return self._repo
        try:
            self._repo = git.Repo(self._clone_dir)
        except (git.NoSuchPathError, git.InvalidGitRepositoryError):
            # First run, or a clone too damaged to open: start it afresh.
            import shutil  # here only: it imports the compression modules

            shutil.rmtree(self._clone_dir, ignore_errors=True)
            self._clone_dir.parent.mkdir(parents=True, exist_ok=True)
            self._repo = git.Repo.init(self._clone_dir, bare=True)
        self._repo.git.update_environment(**_AS_STORED)
        return self._repo

    def close(self) -> None:
        if self._repo is not None:
            self._repo.close()
            self._repo = None


_SYMLINK_MODE = 0o120000
# Never ask for a password on a terminal: the daemon has none, and a prompt would hang it.
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false", "SSH_ASKPASS": "/bin/false",
            "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o ConnectTimeout=30"}
# Objects as they are, never as refs/replace/* or a grafts file would show them: a pusher
# could push a replace ref that makes a signed commit read as a tree or parents of theirs.
_AS_STORED = {"GIT_NO_REPLACE_OBJECTS": "1", "GIT_GRAFT_FILE": "/dev/null"}
_GIT_ENV.update(_AS_STORED)


_HIDDEN_FROM_THE_SERVICE = ("/home/", "/root/", "/run/user/")


def _why_not_a_repository(path: str) -> str:
    """Why a local source.repo cannot be opened, with what to do."""
    absolute = os.path.abspath(path) + "/"
    if not os.path.exists(path):
        if absolute.startswith(_HIDDEN_FROM_THE_SERVICE):
            return ("does not exist here; under systemd the service cannot see /home, /root or /run/user "
                    "(ProtectHome=yes): keep the config repo elsewhere, e.g. /srv/notify-config")
        return "does not exist: check source.repo"
    if not os.access(path, os.R_OK | os.X_OK):
        return (f"cannot be read by this user (uid {os.geteuid()}): let it read the repo "
                "(the service runs as notify-reconciler)")
    return "not a git repository: check source.repo"


def _no_branch(repo: git.Repo, branch: str) -> str:
    """Why the branch cannot be resolved: a repository in an object format other than SHA-1
    looks to GitPython as if it had no branches at all."""
    try:
        object_format = repo.git.rev_parse("--show-object-format", env=_GIT_ENV).strip()
    except git.GitCommandError:
        object_format = "sha1"
    if object_format != "sha1":
        return (f"a {object_format.upper()} repository, which notify-reconciler cannot read (only SHA-1 "
                "repositories, git's default, are supported): keep the specs in a repository made "
                "without --object-format")
    return f"no branch {branch!r}: check source.branch, or push the branch"


def _import_git() -> None:
    """GitPython is slow to import (it looks for the git program): only what reads
    a repository pays for it, not `validate` of a folder. Every use of `git.` here follows
    an `_open()`, which calls this first."""
    global git
    import git


def _trusting(repo: git.Repo) -> dict[str, str]:
    """git config, given as the command line would, that trusts this one repository.

    git refuses a repository owned by another user (safe.directory, git 2.35.2 and later), and
    the daemon runs as its own user while the operator's repo usually belongs to someone else:
    every command then fails, which GitPython reports as a missing branch. The operator named
    this repo in source.repo, so it is trusted, and only it: the setting is passed to the
    commands run in it (GIT_CONFIG_COUNT is command-line scope, where git reads
    safe.directory), never written to any config file."""
    paths = {os.path.realpath(path) for path in (repo.working_tree_dir, repo.git_dir) if path}
    start = int(os.environ.get("GIT_CONFIG_COUNT", "0") or 0)
    env = {"GIT_CONFIG_COUNT": str(start + len(paths))}
    for index, path in enumerate(sorted(paths), start):
        env[f"GIT_CONFIG_KEY_{index}"] = "safe.directory"
        env[f"GIT_CONFIG_VALUE_{index}"] = path
    return env


MAX_COMMIT_BYTES = 1024 * 1024
"""A commit object (headers, signature, message) larger than this is refused unread."""


def revision_of(sha: str, raw: bytes) -> Revision:
    """The Revision of a raw commit object (`git cat-file commit`): the author's name, the
    committer's time and the message's first line, as `git log --format='%an %ct %s'`
    would give them for a one-line subject."""
    from ..values import Revision

    head, _, message = raw.partition(b"\n\n")
    author, committed = "", 0
    for line in head.split(b"\n"):
        if line.startswith(b"author "):
            author = line[7:].rsplit(b" <", 1)[0].decode("utf-8", "replace")
        elif line.startswith(b"committer "):
            try:
                committed = int(line.rsplit(b" ", 2)[-2])
            except (ValueError, IndexError):
                committed = 0
    subject = message.split(b"\n", 1)[0].decode("utf-8", "replace")
    return Revision(sha, subject, author, committed)


def _git_message(exc: git.GitCommandError) -> str:
    """git's own reason, from its `fatal:` line, without credentials."""
    text = exc.stderr if isinstance(exc.stderr, str) else str(exc)
    lines = [line.strip().strip("'") for line in text.replace("stderr:", "").splitlines() if line.strip()]
    reasons = [line.split(":", 1)[1].strip() for line in lines if line.startswith(("fatal:", "error:"))]
    return _redact_url(reasons[0] if reasons else (lines[0] if lines else str(exc)))


def _redact_url(text: str) -> str:
    """https://deploy:TOKEN@host/ -> https://<secret>@host/: credentials never reach a log
    (display.redact_urls, which status, the mails and the log use too)."""
    return redact_urls(text)


# -- the committed specs -------------------------------------------------------------------

@dataclass(frozen=True)
class Committed:
    """A verified commit and its valid specs."""

    revision: Revision
    specs: Specs
    rewound_from: Revision | None = None
    """The applied commit this one does not descend from, when a rewind was allowed."""


def committed_specs(source: GitSource, allowed_signers: str | None, *, revision: Revision | None = None,
                    cache: ParseCache | None = None, applied: Revision | None = None,
                    allow_rewind: bool = False, secrets: SecretSettings | None = None) -> Committed:
    """The specs of the branch's head (fetched first), or of `revision`, if that commit may
    be applied. Raises CommitRejected (unsigned, a head that does not descend from the
    `applied` commit unless `allow_rewind`, invalid specs, or a password source that
    `secrets` does not list, with every located error) or SourceError (the repository or
    branch cannot be read). `secrets`: the daemon config's list (default: its defaults)."""
    from ..specs.daemon_config import SecretSettings
    from .password_sources import password_source_problems
    from ..specs.pipeline import parse_specs
    from .template_engine import check_templates

    if revision is None:
        source.fetch()
        revision = source.head()
    if allowed_signers:
        check = source.check_signature(revision, allowed_signers)
        if check.problem:
            raise CommitRejected(revision, check.problem, (check.problem,))
        revision = replace(revision, signed_by=check.signer)
    rewound_from = None
    if applied is not None and not source.descends_from(revision, applied):
        if not allow_rewind:
            problem = rewind_problem(revision, applied)
            raise CommitRejected(revision, problem, (problem,))
        rewound_from = applied
    # `in cache` may load an entry from disk (cache.PersistentParseCache): a file is left unread
    # only once its parse is in memory.
    tree = source.read(revision, known=cache if cache is not None else frozenset())
    try:
        specs = parse_specs(tree.files, extra_errors=tree.errors, digests=tree.digests, cache=cache,
                            templates=tree.templates)
        # Subjects and body templates as Alertmanager's own engine reads them (amtool), and
        # the password only from where the operator lets specs take it: nothing reads it before.
        problems = password_source_problems(specs.server, secrets or SecretSettings()) + check_templates(specs)
        if problems:
            raise SpecErrors(problems)
    except SpecErrors as exc:
        raise CommitRejected(revision, f"{len(exc.errors)} error(s) in the specs",
                             tuple(str(error) for error in exc.errors), exc) from None
    return Committed(revision, specs, rewound_from)


def rewind_problem(head: Revision, applied: Revision) -> str:
    """Why a head that does not descend from the applied commit is refused, and what to do."""
    return (f"the branch moved to commit {head.short} ({head.subject!r}), which does not descend from the applied "
            f"commit {applied.short} ({applied.subject!r}): the applied history only moves forward, so an older "
            "commit cannot be replayed; push a new commit on top of the applied one, or, if this rewind is meant, "
            "apply it once with `notify-reconciler apply --config FILE --allow-rewind` (with the daemon stopped)")

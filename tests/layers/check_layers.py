"""The tree's layers point one way: every quoted #include names a room the including room may use.

    python3 tests/layers/check_layers.py            # checks the tree; exit 1 and one line per
                                                    # upward include, or a flat one
    python3 tests/layers/check_layers.py --self-test  # proves the check fails on an upward include

Includes are rooted ("base/uv_handle.h", "common/flags.h"): the first path component is the room.
The allowed uses below are the architecture (docs/architecture.md); changing one is a design
decision, not a fix for a failing test. Nothing under hamba/ may use services/, in an include or
in a CMake link.
"""

import os
import re
import sys

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# room -> rooms its files may include (besides its own). A room is hamba/<dir>, or services/<dir>.
ALLOWED = {
    "hamba/base": set(),
    "hamba/config": {"base"},
    "hamba/net": {"base"},
    "hamba/balance": {"base", "config", "net"},  # net: health checks use the transports (TLS)
    "hamba/engine": {"base", "config", "net", "balance"},
    "hamba/control": {"base", "config", "balance", "engine"},
    "hamba/cli": {"base", "config"},
    "hamba/discovery": {"base", "config"},
    "hamba/app": {"base", "config", "net", "balance", "engine", "control", "cli", "discovery"},
    "hamba/main.cpp": {"base", "config", "app", "cli"},
    "services/common": {"base"},
    "services/rng": {"base", "common"},
    "services/hasher": {"base", "common"},
    "services/worker": {"base", "common"},
    "services/webui": {"base", "common"},
}
# What the first component of an include names, per tree: hamba's rooms are only visible from
# hamba/ and services/, services' only from services/.
HAMBA_ROOMS = {r.split("/", 1)[1] for r in ALLOWED if r.startswith("hamba/") and "." not in r}
SERVICES_ROOMS = {r.split("/", 1)[1] for r in ALLOWED if r.startswith("services/")}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def room_of(path):
    parts = path.split("/")
    if len(parts) == 2:
        return path  # hamba/main.cpp
    return "/".join(parts[:2])


def problems_in(path, text):
    """Yields one message per include of `text` (the file at `path`, relative) that breaks a rule."""
    room = room_of(path)
    if room not in ALLOWED:
        yield f"{path}: room {room} is not in tests/layers/check_layers.py's table"
        return
    own = room.split("/", 1)[1]
    for m in INCLUDE.finditer(text):
        target = m.group(1)
        line = text.count("\n", 0, m.start()) + 1
        if "/" not in target:
            yield f"{path}:{line}: #include \"{target}\" is not rooted (write \"ROOM/{target}\")"
            continue
        first = target.split("/", 1)[0]
        if first == own:
            continue
        if first not in HAMBA_ROOMS | SERVICES_ROOMS:
            yield f"{path}:{line}: #include \"{target}\" names no room"
        elif first not in ALLOWED[room]:
            yield (f"{path}:{line}: #include \"{target}\": {room} may not use {first} "
                   f"(it may use: {', '.join(sorted(ALLOWED[room])) or 'nothing'})")


def cmake_problems(path, text):
    code = re.sub(r"#.*", "", text)  # comments may mention services/
    if path.startswith("hamba/") and re.search(r"\bservices[_/]", code):
        yield f"{path}: hamba/ links or names something under services/"


def tree_files():
    for top in ("hamba", "services"):
        for dirpath, _, names in os.walk(os.path.join(SOURCE_DIR, top)):
            for name in sorted(names):
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, SOURCE_DIR)
                if name.endswith((".cpp", ".h")) or name == "CMakeLists.txt":
                    with open(full, encoding="utf-8") as f:
                        yield rel, f.read()


def check(files):
    out = []
    for path, text in files:
        if path.endswith("CMakeLists.txt"):
            out.extend(cmake_problems(path, text))
        else:
            out.extend(problems_in(path, text))
    return out


def self_test():
    files = list(tree_files())
    assert not check(files), "the tree itself must pass before the self-test means anything"
    planted = [
        ("hamba/net/listener.cpp", '#include "engine/session.h"\n'),   # up a layer
        ("hamba/base/log.cpp", '#include "config/config.h"\n'),       # base uses nothing
        ("hamba/control/admin_server.cpp", '#include "common/log.h"\n'),  # hamba -> services
        ("services/common/flags.cpp", '#include "net/listener.h"\n'),  # services -> hamba above base
        ("hamba/engine/engine.cpp", '#include "uv_handle.h"\n'),        # flat include
        ("hamba/CMakeLists.txt", "target_link_libraries(hamba_lib PUBLIC services_common)\n"),
    ]
    for path, extra in planted:
        changed = [(p, t + extra if p == path else t) for p, t in files]
        found = check(changed)
        if not found:
            print(f"self-test FAILED: planting {extra.strip()!r} in {path} was not reported")
            return 1
        print(f"ok: {found[0]}")
    print("self-test passed: every planted upward or flat include was reported")
    return 0


def main():
    if "--self-test" in sys.argv[1:]:
        return self_test()
    found = check(tree_files())
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} include(s) break the layers")
        return 1
    print("layers: every include points down")
    return 0


if __name__ == "__main__":
    sys.exit(main())

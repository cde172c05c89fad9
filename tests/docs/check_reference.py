#!/usr/bin/env python3
"""docs/configuration.md names every option, environment variable and YAML key hamba accepts.

The options and variables come from `hamba --help` (printed from the one option table). The YAML
keys come from the loader itself: a configuration whose only key is unknown is refused with the
list of keys the map knows ("unknown key 'zz_probe' in check (known: enabled, fall, ...)"), so
the probe starts at the top, and tries every known key as a mapping and as a list of mappings to
find the maps below it. A key the loader learns is then missing from the reference until someone
writes it down, and this fails.

`check_reference.py HAMBA DOC` exits 1 listing what DOC lacks; `--self-test` also checks that
a reference with one option and one key taken out is caught.
"""

import os
import re
import subprocess
import sys
import tempfile

PROBE = "zz_probe"
UNKNOWN = re.compile(r"unknown key '" + PROBE + r"' in (.+?) \(known: ([^)]*)\)")


def help_words(hamba):
    """The flags (`--connect-timeout`) and environment variables (`HAMBA_CONNECT_TIMEOUT`,
    `ADMIN`) of the option table, from the usage."""
    out = subprocess.run([hamba, "--help"], capture_output=True, text=True, timeout=30)
    text = out.stdout + out.stderr
    options = text[text.index("Options ("):]
    flags, variables = set(), set()
    for line in options.splitlines():
        m = re.match(r"\s+(--[a-z][a-z0-9-]*)(?:\s+\S+)?\s{2,}([A-Z][A-Z0-9_]*(?:, [A-Z][A-Z0-9_]*)*)",
                     line)
        if m:
            flags.add(m.group(1))
            variables.update(v.strip() for v in m.group(2).split(","))
    return flags, variables


def yaml_text(path, leaf):
    """A YAML document with `leaf` at `path` (keys, and 0 for the first item of a list)."""
    node = leaf
    for step in reversed(path):
        node = [node] if step == 0 else {step: node}
    return to_yaml(node)


def to_yaml(node):
    if isinstance(node, dict):
        return "{" + ", ".join(f"{k}: {to_yaml(v)}" for k, v in node.items()) + "}"
    if isinstance(node, list):
        return "[" + ", ".join(to_yaml(v) for v in node) + "]"
    return str(node)


def known_keys(hamba, path, workdir):
    """The keys the map at `path` knows, or None when no map is there."""
    config = os.path.join(workdir, "probe.yaml")
    with open(config, "w") as f:
        f.write(yaml_text(path, {PROBE: 1}) + "\n")
    out = subprocess.run([hamba, "debugconfig", "--config", config], capture_output=True,
                         text=True, timeout=30)
    m = UNKNOWN.search(out.stderr)
    if not m:
        return None
    return [k.strip() for k in m.group(2).split(",") if k.strip()]


def yaml_keys(hamba):
    """Every key of every map the loader reads, as {dotted path: key}."""
    found = {}
    with tempfile.TemporaryDirectory() as workdir:
        pending = [[]]
        while pending:
            path = pending.pop()
            keys = known_keys(hamba, path, workdir)
            for key in keys or []:
                dotted = ".".join(str(p) for p in path if p != 0)
                found.setdefault(key, []).append(dotted or "(top)")
                if len(path) > 12:
                    continue  # no real configuration nests this deep: a loop in the probe
                for below in ([*path, key], [*path, key, 0]):
                    if known_keys(hamba, below, workdir) is not None:
                        pending.append(below)
                        break
    return found


def missing(hamba, doc_text):
    flags, variables = help_words(hamba)
    keys = yaml_keys(hamba)
    lacks = []
    for flag in sorted(flags):
        if not re.search("`" + re.escape(flag) + r"(?![A-Za-z0-9_-])", doc_text):
            lacks.append(f"option {flag}")
    for var in sorted(variables):
        if not re.search(r"\b" + re.escape(var) + r"\b", doc_text):
            lacks.append(f"environment variable {var}")
    for key, where in sorted(keys.items()):
        # Written as a key (`key:` in an example, or {key: ...}), or named in backquotes.
        if not re.search(r"(^|[\s{,\[])" + re.escape(key) + r":|`" + re.escape(key) + r"[`:]",
                         doc_text, re.M):
            lacks.append(f"YAML key {key} (in {', '.join(sorted(set(where)))})")
    return flags, variables, keys, lacks


def main(argv):
    self_test = "--self-test" in argv
    args = [a for a in argv if a != "--self-test"]
    if len(args) != 2:
        print("usage: check_reference.py [--self-test] HAMBA DOC", file=sys.stderr)
        return 2
    hamba, doc = args
    with open(doc, encoding="utf-8") as f:
        text = f.read()
    flags, variables, keys, lacks = missing(hamba, text)
    print(f"{len(flags)} options, {len(variables)} environment variables, {len(keys)} YAML keys")
    if len(flags) < 10 or len(keys) < 20:
        print("check_reference: too few options or keys found: the probe is broken", file=sys.stderr)
        return 1
    if lacks:
        print(f"{doc} lacks:", file=sys.stderr)
        for item in lacks:
            print(f"  {item}", file=sys.stderr)
        return 1
    if self_test:
        # Take one option and one nested key out of the reference: both must be reported.
        cut = text.replace("`--idle-timeout", "`--idle-timeoutX").replace("HAMBA_IDLE_TIMEOUT", "X")
        cut = re.sub(r"(^|[\s{,\[])rise:", r"\1risen-", cut, flags=re.M).replace("`rise`", "`x`")
        _, _, _, cut_lacks = missing(hamba, cut)
        wanted = {"option --idle-timeout", "environment variable HAMBA_IDLE_TIMEOUT"}
        if not wanted <= set(cut_lacks) or not any(l.startswith("YAML key rise ") for l in cut_lacks):
            print(f"self-test: a cut reference was not caught: {cut_lacks}", file=sys.stderr)
            return 1
        print("self-test: a reference missing an option, its variable and a key is caught")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

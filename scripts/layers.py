#!/usr/bin/env python3
"""scripts/layers.py [ROOT] -- check goro's layering and file sizes.

The rules of runtime/HACKING.md ("Layers, files and names"), as a test:
  - arch/ includes only system headers and arch/ headers;
  - runtime/ never includes Lua's headers nor anything of vm_bridge/;
  - include/goro.h includes no header at all (it declares lua_State);
  - nothing below lua/ includes upward (vm_bridge/ from runtime/ or arch/);
  - the project's headers include each other without a cycle;
  - no C file in runtime/ or vm_bridge/ is over MAX_LINES lines.
Prints each violation and exits 1 if there is one.
"""
import os
import re
import sys

MAX_LINES = 650  # "about 600" (HACKING.md), with room for a comment block
LUA_HEADERS = {"lua.h", "lauxlib.h", "lualib.h", "luaconf.h"}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)

root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), ".."))
errors = []


def files(folder, exts):
    d = os.path.join(root, folder)
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(folder, f) for f in os.listdir(d)
                  if f.endswith(exts))


def includes(path):
    with open(os.path.join(root, path), encoding="utf-8") as f:
        text = f.read()
    out = []
    for kind, name in INCLUDE.findall(text):
        if kind == '"':  # resolve relative to the including file
            name = os.path.normpath(os.path.join(os.path.dirname(path), name))
        out.append((kind, name))
    return out


for path in files("arch", (".c", ".h", ".S")):
    for kind, name in includes(path):
        if kind == '"' and not name.startswith("arch/"):
            errors.append(f"{path}: arch/ includes {name}")

for path in files("runtime", (".c", ".h")):
    for kind, name in includes(path):
        if os.path.basename(name) in LUA_HEADERS:
            errors.append(f"{path}: runtime/ includes Lua's {name}")
        if kind == '"' and not name.startswith(("runtime/", "arch/",
                                                "include/goro.h")):
            errors.append(f"{path}: runtime/ includes {name} (upward)")

for kind, name in includes("include/goro.h"):
    errors.append(f"include/goro.h: includes {name} (it must stand alone)")

# Cycles among the project's headers.
graph = {}
for folder in ("arch", "runtime", "vm_bridge", "include"):
    for path in files(folder, (".h",)):
        graph[path] = [n for k, n in includes(path) if k == '"']
state = {}


def visit(node, stack):
    state[node] = 1
    for nxt in graph.get(node, []):
        if state.get(nxt) == 1:
            cycle = stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt]
            errors.append("include cycle: " + " -> ".join(cycle))
        elif nxt in graph and state.get(nxt) is None:
            visit(nxt, stack + [nxt])
    state[node] = 2


for node in graph:
    if state.get(node) is None:
        visit(node, [node])

for folder in ("runtime", "vm_bridge"):
    for path in files(folder, (".c",)):
        with open(os.path.join(root, path), encoding="utf-8") as f:
            n = sum(1 for _ in f)
        if n > MAX_LINES:
            errors.append(f"{path}: {n} lines (more than {MAX_LINES}: split it "
                          "along a seam)")

for e in errors:
    print("layers: " + e)
print(f"layers: {len(errors)} violation(s)")
sys.exit(1 if errors else 0)

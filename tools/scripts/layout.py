#!/usr/bin/env python3
"""Check the runtime's layout against docs/architecture.md.

    tools/scripts/layout.py BUILD_DIR [SOURCE_DIR]

Reads the object files of the runtime library in BUILD_DIR with `nm` and
finds, for every source file, which other source files it calls (it
references a symbol the other one defines).  Then it checks:

  1. no cycle between files: no file calls a file that calls it back,
     directly or through others (strongly connected components of the call
     graph, one file each);
  2. layers point one way: a file of layer L calls only files of L or of
     the layers below it (LAYERS, lowest first; resources/ are the layer
     just above the node, whose adapters they are);
  3. no source file in runtime/, resources/ or tools/ is over MAX_LINES.

Prints every breach and ends with one line "layout: N problems"; exits 1
if there are any.  With --graph it prints the call graph between files
instead (one "a -> b" line per edge), for docs and reviews.
"""
import os
import subprocess
import sys

# Lowest first.  A file may call its own layer and those before it.
LAYERS = ["base", "platform", "store", "net", "workflow", "code", "isolate",
          "node", "resources", "orc", "domain"]
MAX_LINES = 1200


def source_of(obj):
    """runtime/<layer>/<file>.c for a Meson object name."""
    name = os.path.basename(obj)[: -len(".o")]
    if name.startswith(".._resources_"):
        return "resources/" + name[len(".._resources_"):]
    layer, _, rest = name.partition("_")
    return "runtime/%s/%s" % (layer, rest)


def layer_of(src):
    parts = src.split("/")
    return parts[0] if parts[0] == "resources" else parts[1]


def symbols(objs):
    defined, undefined = {}, {}
    for o in objs:
        src = source_of(o)
        out = subprocess.run(["nm", "-g", o], check=True, text=True,
                             capture_output=True).stdout
        d, u = set(), set()
        for line in out.splitlines():
            f = line.split()
            if len(f) == 3 and f[1] in "TDBRCV":
                d.add(f[2])
            elif len(f) == 2 and f[0] == "U":
                u.add(f[1])
        defined[src], undefined[src] = d, u
    return defined, undefined


def call_graph(build):
    pdir = os.path.join(build, "runtime", "libledge_runtime.a.p")
    objs = sorted(os.path.join(pdir, f) for f in os.listdir(pdir)
                  if f.endswith(".o"))
    defined, undefined = symbols(objs)
    owner = {}
    for src, syms in defined.items():
        for s in syms:
            owner[s] = src
    graph = {src: set() for src in defined}
    for src, syms in undefined.items():
        for s in syms:
            if s in owner and owner[s] != src:
                graph[src].add(owner[s])
    return graph


def sccs(graph):
    """Tarjan's strongly connected components (iterative)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    out.append(sorted(comp))
    return out


def long_files(src_dir):
    bad = []
    for top in ("runtime", "resources", "tools"):
        for dirpath, _, files in os.walk(os.path.join(src_dir, top)):
            for f in files:
                if f.endswith((".c", ".h")):
                    p = os.path.join(dirpath, f)
                    with open(p, encoding="utf-8", errors="replace") as fh:
                        n = sum(1 for _ in fh)
                    if n > MAX_LINES:
                        bad.append((os.path.relpath(p, src_dir), n))
    return bad


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    if not args:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    build = args[0]
    src_dir = args[1] if len(args) > 1 else os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    graph = call_graph(build)
    if "--graph" in argv:
        for a in sorted(graph):
            for b in sorted(graph[a]):
                print("%s -> %s" % (a, b))
        return 0
    problems = []
    for comp in sccs(graph):
        if len(comp) > 1:
            problems.append("cycle between files: " + ", ".join(comp))
    for a in sorted(graph):
        la = LAYERS.index(layer_of(a))
        for b in sorted(graph[a]):
            lb = LAYERS.index(layer_of(b))
            if lb > la:
                problems.append("%s (layer %s) calls %s (layer %s, above it)"
                                % (a, LAYERS[la], b, LAYERS[lb]))
    for p, n in long_files(src_dir):
        problems.append("%s: %d lines (over %d)" % (p, n, MAX_LINES))
    for p in problems:
        print(p)
    print("layout: %d problems" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
